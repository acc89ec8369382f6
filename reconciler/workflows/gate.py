"""The gate every edit of the manifests passes (adopt, adopt --expiring, offboard): the edited texts
are loaded in memory by the one loader and checked as `validate` checks them, then planned by
the one planner against the same live read; an edit that would not load, or would make the
manifests ask for a change they do not ask for now, is `Refused` and nothing is written.

`settle` finds, among units of edits (one account each), those that pass: all together
first, then by halving, so a few bad units among many cost a few checks each; `merge_passing`
runs it over editors and merges what passes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TypeVar

from reconciler.errors import ManifestError, ReconcilerError
from reconciler.manifest import load_texts
from reconciler.manifest.admins import admin_floor
from reconciler.manifest.edit import Editor, FileEdit
from reconciler.model import Desired, Live
from reconciler.plan import Action, Plan, Policy
from reconciler.planfile.digest import action_meaning
from reconciler.planning.planner import make_plan

U = TypeVar("U")
K = TypeVar("K")


class Refused(ReconcilerError):
    """The edited manifests would not load, or would plan a change the current ones do
    not; `problems` says why, one line each (files named as the user knows them, lines as
    adopt would write them)."""

    def __init__(self, headline: str, problems: Sequence[str]) -> None:
        super().__init__(f"{headline}; nothing was written:\n" + "\n".join(problems))
        self.problems = tuple(problems)


def load_edited(
    desired: Desired, files: Sequence[FileEdit], *, now: float, already: Collection[str] = ()
) -> Desired:
    """The edited manifests, loaded in memory (each file named as the user knows it) and
    checked as `validate` checks them (with the time: an admin whose `expires:` has passed
    is not counted); `Refused` when they would not pass (nothing is written then).
    `already`: the accounts under their minAdmins before the edit (`floor_before`), which
    stay so (not the edit's doing)."""
    edited = {edit.path: edit.after for edit in files}
    texts: list[tuple[str, bytes]] = []
    for file in desired.files:
        try:
            raw = edited[file].encode("utf-8") if file in edited else Path(file).read_bytes()
        except OSError as exc:
            raise Refused("the manifests cannot be read again", [f"{file}: {exc}"]) from exc
        texts.append((file, raw))
    try:
        loaded = load_texts(texts)
        floor = admin_floor(loaded, now=now, within_days=0.0)
        new = [
            d
            for d, account in zip(floor.errors, floor.failing, strict=True)
            if account not in already
        ]
        if new:
            raise ManifestError(new)
        return loaded
    except ManifestError as exc:
        raise Refused(
            "the edit would leave manifests that do not load", [str(d) for d in exc.diagnostics]
        ) from exc


def meaning(action: Action) -> str:
    return repr(sorted(action_meaning(action).items()))


def verify(
    desired: Desired,
    live: Live,
    policy: Policy,
    before: Plan,
    files: Sequence[FileEdit],
    already: frozenset[str] | None = None,
) -> None:
    """Load the edited manifests (in memory) and plan them against the same read: they
    must load, and plan no action the current manifests do not."""
    already = floor_before(desired, policy.now) if already is None else already
    after = make_plan(load_edited(desired, files, now=policy.now, already=already), live, policy)
    known = {meaning(a) for a in before.actions}
    new = [a for a in after.actions if meaning(a) not in known]
    if new:
        raise Refused(
            "the edit would make the manifests ask for a change they do not ask for now",
            [f"{a.kind.value} {a.target}" for a in new],
        )


def settle(
    units: Sequence[U], check: Callable[[Sequence[U]], None]
) -> tuple[list[U], list[tuple[U, Refused]]]:
    """The units whose edits pass `check` (which raises `Refused`), and each one that does
    not on its own, with why. All together first; when that fails, each half, down to
    single units: a few bad units among many cost a few checks each (the check loads and
    plans every manifest), never one per unit."""
    chunks, refused = _halve(units, check)
    accepted = [unit for chunk in chunks for unit in chunk]
    if len(chunks) <= 1:
        return accepted, refused  # checked as they are
    try:
        check(accepted)
    except Refused:
        # Units that pass alone but not together (two admins whose removals each leave
        # one): one by one, each kept only if it passes with those kept before it.
        kept: list[U] = []
        for unit in accepted:
            try:
                check([*kept, unit])
            except Refused as exc:
                refused.append((unit, exc))
                continue
            kept.append(unit)
        return kept, refused
    return accepted, refused


def _halve(
    units: Sequence[U], check: Callable[[Sequence[U]], None]
) -> tuple[list[list[U]], list[tuple[U, Refused]]]:
    """The chunks of `units` that pass `check` each, and the single units that do not."""
    if not units:
        return [], []
    try:
        check(units)
    except Refused as exc:
        if len(units) == 1:
            return [], [(units[0], exc)]
        middle = len(units) // 2
        left_ok, left_bad = _halve(units[:middle], check)
        right_ok, right_bad = _halve(units[middle:], check)
        return [*left_ok, *right_ok], [*left_bad, *right_bad]
    return [list(units)], []


def floor_before(desired: Desired, now: float) -> frozenset[str]:
    """The AMC accounts already under their minAdmins (validate says so either way): an
    edit is refused only for one it puts under, computed once per edit, not per check."""
    return frozenset(admin_floor(desired, now=now, within_days=0.0).failing)


def merge_passing(
    base: Editor,
    units: Sequence[tuple[K, Editor]],
    check: Callable[[list[FileEdit]], None],
    *,
    first: Sequence[Editor] = (),
) -> tuple[Editor, list[FileEdit], list[tuple[tuple[K, Editor], Refused]]]:
    """The units (a key, an editor of `base`'s files) whose edits pass `check` (the gate:
    it raises `Refused`), found by `settle`, merged after `first` (editors taken as they
    are) into one editor; its files, checked once more together when some unit was left
    out; and each unit left out with why."""

    def combine(chosen: Sequence[Editor]) -> Editor:
        merged = base.fork()
        for unit in chosen:
            merged.merge(unit)
        return merged

    def attempt(chosen: Sequence[tuple[K, Editor]]) -> None:
        files = combine([unit for _, unit in chosen]).results()
        if files:
            check(files)

    accepted, refused = settle(units, attempt)
    merged = combine([*first, *(unit for _, unit in accepted)])
    files = merged.results()
    if refused and files:
        check(files)  # the units that pass, together
    return merged, files, refused
