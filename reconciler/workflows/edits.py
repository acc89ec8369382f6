"""The commands that write manifests from live state: `import`, `pin` and `adopt`. Each reads
by the world's clock (`reconciler.workflows.session`) and writes through the one editor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.live.read import read_all
from reconciler.model import Incomplete
from reconciler.plan import Pin, Policy
from reconciler.workflows import operations
from reconciler.workflows.adopt import Adoption
from reconciler.workflows.adopt import write as write_adoption
from reconciler.workflows.baseline import manifests_at
from reconciler.workflows.expiring import expiring
from reconciler.workflows.importer import import_live
from reconciler.workflows.manifests import load
from reconciler.workflows.pin import PinResult, write_pins
from reconciler.workflows.session import ApiOptions, context


@dataclass(frozen=True, slots=True)
class Imported:
    """The files `import` wrote, and the scopes whose read may be incomplete (sorted): an
    import that silently missed accounts would make the next plan lie."""

    written: tuple[Path, ...]
    incomplete: tuple[Incomplete, ...] = ()


def import_(api: ApiOptions, out_dir: Path, *, force: bool = False) -> Imported:
    """Read everything the credentials reach and write manifests describing it under
    `out_dir` (what could be read, with `prune: false` where a read was incomplete)."""
    with api.open_client() as client:
        live = read_all(client.reader(), now=client.now(), progress=api.progress)
    written = import_live(live, out_dir, force=force)
    return Imported(written, tuple(sorted(live.incomplete)))


@dataclass(frozen=True, slots=True)
class Pinning:
    """What `pin` did: `held`, the pins of lines where a role change waits on a pin (not
    written without `include_held`); `result`, the pins written (or, dry, that would be)."""

    held: tuple[Pin, ...]
    result: PinResult


def pin(
    paths: Sequence[str], api: ApiOptions, *, dry_run: bool = False, include_held: bool = False
) -> Pinning:
    """Plan with every guard lifted (nothing is applied: only the proposed pins are wanted)
    and write the pins of the accounts read in full."""
    desired = load(paths)
    bound_to = context(api, paths)
    with api.open_client() as client:
        permissive = Policy(
            max_removals=10**9,
            max_removal_fraction=1.0,
            now=client.now(),
            allow_incomplete=True,
            allow_unresolved=True,
            allow_fewer_admins=True,
        )
        the_plan = operations.plan(desired, client, permissive, bound_to)
    unread = {n.scope for n in the_plan.unread}
    pins = [p for p in the_plan.pins if str(p.scope) not in unread]
    # One line may be proposed by several accounts (a group member): if a role change waits
    # on any of them, the line is held, whatever the others say.
    held_lines = {(p.file, p.line) for p in pins if p.held}
    held = [p for p in pins if (p.file, p.line) in held_lines and not include_held]
    result = write_pins([p for p in pins if p not in held], dry_run=dry_run)
    return Pinning(tuple(held), result)


def adopt(
    paths: Sequence[str],
    api: ApiOptions,
    *,
    show_diff: bool = False,
    expiring_only: bool = False,
    expiring_within_days: float,
    baseline: str | None = None,
) -> Adoption:
    """Rewrite the manifests to describe what is live (`operations.adopt`), or with
    `expiring_only` remove the entries whose `expires:` has passed or comes within
    `expiring_within_days` (reads nothing live). Writes unless `show_diff`."""
    desired = load(paths)
    if expiring_only:
        adoption = expiring(desired, now=api.now(), within_days=expiring_within_days)
    else:
        # Before anything is read live: a baseline that cannot be used stops here.
        revision = manifests_at(baseline, paths) if baseline is not None else None
        with api.open_client() as client:
            adoption = operations.adopt(
                desired, client, now=client.now(), baseline=revision, progress=api.progress
            )
    if not show_diff:
        write_adoption(adoption)
    return adoption
