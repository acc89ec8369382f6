"""Re-reading what a plan touches, and the one verdict on whether an action is in place.

`read_scopes` reads exactly the scopes of some actions through `reconciler.live.read.read_live`,
with a `Desired` that names only those scopes (`selector`). `verdict` says, from such a read,
whether one action is done, not done, or cannot be told (the read of its scope may be
incomplete; several manager accounts of one name appeared); the executor asks it before a
create, after a refusal, after a lost answer and when verifying, and the family
(`reconciler.actions`) says what "done" looks like. Reference §2.6: there is no GET by id for
a manager account, so a re-read is `GET /managerAccounts` on the relevant hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconciler.actions import family
from reconciler.actions.manager_accounts import created_ids
from reconciler.api import AdsReader
from reconciler.errors import StalePlanError
from reconciler.live.read import HOME_REGION, read_live
from reconciler.model import (
    Desired,
    DesiredAccount,
    DesiredLink,
    DesiredManagerAccount,
    Live,
    LiveManagerAccount,
    Region,
    Scope,
    amc_scope,
    manager_scope,
)
from reconciler.plan import Action, ActionKind, Plan
from reconciler.planning.stale import changes as stale_changes

_ALL_REGIONS = frozenset(Region)


def manager_id_of(action: Action, created: Mapping[str, str]) -> str | None:
    """The live id an action's manager account has, or got from a create in this apply."""
    if action.manager is None:
        return None
    if action.manager.id is not None:
        return action.manager.id
    return created.get(action.manager.name)


def selector(saved: Live, actions: Iterable[Action], created: Mapping[str, str]) -> Desired:
    """A `Desired` that makes `read_live` read the scopes of `actions` and nothing else.

    The regions read are the ones the plan's own read covered (so a re-read compares like
    with like), plus the regions of links this plan associates. `read_live` reads all three
    regions when a manager account has `prune`, else the home region and its links' regions;
    the links here are probes that only choose regions, never compared with anything."""
    saved_by_id = {m.id: m for m in saved.manager_accounts}
    regions: dict[tuple[str | None, str], set[Region]] = {}
    amc: dict[str, DesiredAccount] = {}
    for action in actions:
        if action.manager is None:
            where = action.account or amc_scope("")
            amc.setdefault(str(where), DesiredAccount(id=where.key, kind=where.kind))
            continue
        ident = manager_id_of(action, created)
        name = action.manager.name
        wanted = regions.setdefault((ident, name), {HOME_REGION})
        known = saved_by_id.get(ident) if ident is not None else None
        wanted |= set(known.regions_read if known else saved.regions_read)
        if action.region is not None:
            wanted.add(action.region)
    managers = tuple(
        DesiredManagerAccount(
            name=name,
            id=ident,
            prune=wanted >= _ALL_REGIONS,
            links=tuple(
                DesiredLink(id=f"region-probe-{r.value}", region=r) for r in sorted(wanted)
            ),
        )
        for (ident, name), wanted in sorted(
            regions.items(), key=lambda kv: (kv[0][1], kv[0][0] or "")
        )
    )
    return Desired(manager_accounts=managers, accounts=tuple(amc[k] for k in sorted(amc)))


def read_scopes(
    saved: Live,
    actions: Sequence[Action],
    reader: AdsReader,
    *,
    created: Mapping[str, str] | None = None,
) -> Live:
    """Read live state for the scopes of `actions` (failed parts come back `Incomplete`)."""
    return read_live(selector(saved, actions, created or {}), reader)


def _restrict(fresh: Live, saved: Live) -> Live:
    """`fresh` with each manager account's links limited to the regions the saved read
    covered: a link in a region the plan never looked at is not a change since the plan."""
    saved_regions = {m.id: m.regions_read for m in saved.manager_accounts}
    managers = []
    for account in fresh.manager_accounts:
        regions = saved_regions.get(account.id)
        if regions is None:
            managers.append(account)
            continue
        links = tuple(x for x in account.links if x.region in regions)
        managers.append(
            LiveManagerAccount(
                id=account.id,
                name=account.name,
                links=links,
                regions_read=account.regions_read & regions,
                truncated_regions=account.truncated_regions & regions,
            )
        )
    return Live(
        manager_accounts=tuple(managers),
        accounts=fresh.accounts,
        incomplete=fresh.incomplete,
        regions_read=fresh.regions_read,
        read_at=fresh.read_at,
    )


def moved_since(
    plan: Plan, fresh: Live, scopes: Iterable[Scope] | None = None, *, restrict: bool = True
) -> list[str]:
    """What moved in `scopes` (default: the ones the plan touches) between the plan's own read
    and `fresh`, one line each; [] when nothing did. `restrict`: compare links only in the
    regions the plan's read covered (a re-read of touched scopes may cover more)."""
    chosen = plan.scopes_touched if scopes is None else tuple(scopes)
    return stale_changes(plan.live, _restrict(fresh, plan.live) if restrict else fresh, chosen)


def check_not_stale(plan: Plan, reader: AdsReader) -> Live:
    """Re-read the scopes `plan` touches; raise `StalePlanError` listing what moved since the
    plan was made, else return the fresh read."""
    if not plan.actions:
        return plan.live
    fresh = read_scopes(plan.live, plan.actions, reader)
    moved = moved_since(plan, fresh)
    if moved:
        raise StalePlanError(moved)
    return fresh


def read_home(action: Action, reader: AdsReader) -> Live:
    """Re-read the home region for the manager account a create action names, right before
    the create is sent: one `GET /managerAccounts` (manager accounts are global, so the home
    host shows that one exists, reference §2.2). Amazon does not refuse a second account with
    the same name and none can be deleted ([UNK] reference §2.3), so an apply that started
    together with another (on another machine) looks again at the last moment."""
    probe = DesiredManagerAccount(name=action.target, prune=False)
    return read_live(Desired(manager_accounts=(probe,)), reader)


class State(StrEnum):
    DONE = "done"
    NOT_DONE = "not done"
    UNKNOWN = "unknown"  # the read cannot tell; `reason` says why


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    reason: str = ""
    created_id: str | None = None  # a create found done: the id it has
    ambiguous: bool = False  # several manager accounts of the name appeared


def verdict(action: Action, fresh: Live, saved: Live, created: Mapping[str, str]) -> Verdict:
    """Whether `fresh` shows `action` in place. `saved` is the plan's own read (to tell a new
    invitation or manager account from one that was there); `created` the ids creates in
    this apply returned."""
    ident = manager_id_of(action, created)
    scopes = [action.scope]
    if ident is not None:
        scopes.append(manager_scope(ident))
    for scope in scopes:
        reason = fresh.unreadable(scope)
        if reason is not None:
            return Verdict(State.UNKNOWN, reason)
    if action.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
        ids = created_ids(action, fresh, saved)
        if len(ids) == 1:
            return Verdict(State.DONE, created_id=ids[0])
        if ids:
            return Verdict(
                State.UNKNOWN,
                f"{len(ids)} manager accounts named {action.target!r} were created since the "
                f"plan ({', '.join(ids)}): pin the right one with `id:`",
                ambiguous=True,
            )
        return Verdict(State.NOT_DONE)
    if action.manager is not None:
        if not any(m.id == ident for m in fresh.manager_accounts):
            return Verdict(
                State.UNKNOWN, f"manager account {ident or action.manager.name} was not found"
            )
    elif fresh.reachable(action.account) is None:
        return Verdict(State.UNKNOWN, f"{action.scope} was not readable")
    if family(action.kind).visible(action, fresh, saved, manager_id=ident):
        return Verdict(State.DONE)
    return Verdict(State.NOT_DONE)


def overlay(base: Live, fresh: Live, scopes: Iterable[Scope]) -> Live:
    """`base` with the accounts of `scopes` as `fresh` read them: what the world looks like
    after re-reading only those scopes. A manager account `fresh` shows that `base` lacks
    (created since) is added; completeness marks of the re-read scopes come from `fresh`."""
    chosen = set(scopes)
    fresh_managers = {m.id: m for m in fresh.manager_accounts}
    names = {s.key for s in chosen if s.is_manager}
    managers = [
        fresh_managers.pop(m.id, m) if (m.id in names or m.name in names) else m
        for m in base.manager_accounts
    ]
    base_ids = {m.id for m in base.manager_accounts}
    managers += [m for m in fresh_managers.values() if m.id not in base_ids]
    # The people of an account of any kind (a manager account's too, in its own scope).
    fresh_amc = {a.scope: a for a in fresh.accounts}
    amc = [fresh_amc.get(a.scope, a) if a.scope in chosen else a for a in base.accounts]
    reread = chosen | {manager_scope(m.id) for m in fresh.manager_accounts}
    incomplete = [i for i in base.incomplete if i.scope not in reread]
    incomplete += fresh.incomplete
    return Live(
        manager_accounts=tuple(managers),
        accounts=tuple(amc),
        incomplete=tuple(sorted(set(incomplete))),
        regions_read=base.regions_read | fresh.regions_read,
        read_at=base.read_at,
    )
