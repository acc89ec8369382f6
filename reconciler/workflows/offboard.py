"""`reconciler offboard WHO PATH...`: rewrite the manifests so that one person holds nothing.

Who the person is: `WHO` (an address or a userId), widened only by evidence: each userId a
proven match (`planning.identity`: a pin, a full address, a pending invitation) ties to one
of the person's entries, and each entry pinned by one of those userIds. A masked address
that merely fits is never taken for the person.

What goes: every AMC account entry naming the person, and every group member entry naming
them (so the group no longer carries them anywhere), with the one manifest editor
(`manifest.edit.Editor`): only those lines change. Each removal passes the gate
(`workflows.gate.load_edited`: the edited texts load and validate, no account is put under
its `minAdmins`); one that would not is listed with why, not made.

What a merge cannot end is listed: the person's live access on accounts the manifests do
not manage (every account the API identity sees, `live.read.read_all`: manager accounts,
AMC accounts, and the sponsored-ads and DSP accounts its profiles name), and on managed
accounts with `prune: false`, where an unlisted user is left alone (a listed one too: the
edit unlists them, which ends nothing there). Each account is read
once: the managed accounts' read serves the plan of the edit and is reused for the rest.
What could not be read in full, managed or not, is listed too: the person may hold access
there that nobody can see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from reconciler.api import AdsClient
from reconciler.live.progress import Progress
from reconciler.live.read import read_all, read_live
from reconciler.manifest.edit import Editor, FileEdit
from reconciler.model import (
    Desired,
    DesiredAccount,
    DesiredUser,
    Live,
    LiveAccount,
    Source,
    canonical_email,
)
from reconciler.planning.access import Grant
from reconciler.planning.access import access as grants_of
from reconciler.planning.identity import MASKED, resolve_users
from reconciler.workflows.adopt import Adoption
from reconciler.workflows.gate import floor_before, load_edited, merge_passing


@dataclass(frozen=True, slots=True)
class Offboarding:
    """The edit (as adopt's `Adoption`: files, one line per removal, one per removal not
    made) and the live access a merge cannot end."""

    adoption: Adoption
    elsewhere: tuple[tuple[Grant, str], ...] = ()  # each with why a merge cannot end it
    unread: tuple[str, ...] = field(default=())  # accounts whose read may miss some


@dataclass(frozen=True, slots=True)
class Person:
    """Everything known to name the person: canonical addresses and userIds."""

    addresses: frozenset[str]
    user_ids: frozenset[str]
    # Live users who fit one of the person's entries by masked address only: maybe them.
    maybe: frozenset[str] = frozenset()

    def names(self, entry: DesiredUser) -> bool:
        if entry.user_id is not None and entry.user_id in self.user_ids:
            return True
        return entry.email is not None and canonical_email(entry.email) in self.addresses


def person(who: str, desired: Desired, live: Live) -> Person:
    """`who` and what evidence ties to it (see the module docstring)."""
    who = who.strip()
    found = Person(
        frozenset({canonical_email(who)}) if "@" in who else frozenset(),
        frozenset() if "@" in who else frozenset({who}),
    )
    maybe: set[str] = set()
    while True:
        addresses, user_ids = set(found.addresses), set(found.user_ids)
        for account in desired.accounts:
            for entry in account.users:
                if found.names(entry):
                    if entry.user_id:
                        user_ids.add(entry.user_id)
                    if entry.email and entry.user_id:  # a pin ties the address to the id
                        addresses.add(canonical_email(entry.email))
            live_account = live.reachable(account.scope)
            if live_account is None:
                continue
            for match in resolve_users(account, live_account).matches:
                if match.user is None:
                    continue
                if match.how == MASKED:
                    if found.names(match.desired):
                        maybe.add(match.user.user_id)
                    continue
                if match.desired.user_id is None and found.names(match.desired):
                    user_ids.add(match.user.user_id)
                elif match.user.user_id in found.user_ids and match.desired.email:
                    addresses.add(canonical_email(match.desired.email))
        grown = Person(frozenset(addresses), frozenset(user_ids))
        if grown == found:
            return Person(found.addresses, found.user_ids, frozenset(maybe - found.user_ids))
        found = grown


def _entries(desired: Desired, who: Person) -> list[tuple[Source, str]]:
    """Each manifest entry naming the person, once: an account's own entry, or the member
    entry of a group (a group entry in an account names the group, not them)."""
    out: dict[Source, str] = {}
    for account in desired.accounts:
        for entry in account.users:
            if entry.source is None or not who.names(entry):
                continue
            if entry.group is not None:
                if entry.pin_at is not None:
                    out.setdefault(entry.pin_at, f"{entry.who} from group {entry.group}")
                continue
            out.setdefault(entry.source, f"{entry.who} from {account.noun}")
    for name, members in desired.groups.items():
        for member in members:
            if member.source is not None and who.names(member):
                out.setdefault(member.source, f"{member.who} from group {name}")
    return sorted(out.items())


def _maybe(desired: Desired, who: Person) -> list[str]:
    """Entries pinned to a live user who fits the person only by masked address."""
    out: dict[Source, str] = {}
    for account in desired.accounts:
        for entry in account.users:
            if entry.user_id in who.maybe and entry.source is not None:
                at = entry.pin_at if entry.group is not None and entry.pin_at else entry.source
                out.setdefault(
                    at,
                    f"{at}: not removed: {entry.user_id} may be the same person (a masked "
                    f"address fits, which proves nothing): if it is, offboard {entry.user_id} "
                    "too",
                )
    return [out[k] for k in sorted(out)]


def offboard(
    who: str,
    desired: Desired,
    client: AdsClient,
    *,
    now: float,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> Offboarding:
    """`dry_run`: nothing will be written, and the lines say "would remove"."""
    reader = client.reader()
    live = read_live(desired, reader, now=now, progress=progress)
    found = person(who, desired, live)
    edit = remove(desired, _entries(desired, found), now=now, dry_run=dry_run)
    edit = replace(edit, skipped=(*edit.skipped, *_maybe(desired, found)))
    # Everything else the identity sees; the managed accounts just read are not read again.
    everything = read_all(reader, now=now, progress=progress, reuse=live)
    return Offboarding(edit, *_still_live(desired, live, everything, found, now=now))


def remove(
    desired: Desired,
    entries: Sequence[tuple[Source, str]],
    *,
    now: float,
    dry_run: bool = False,
) -> Adoption:
    """Remove each entry, those the gate lets through; the others listed with why. Each
    line says once where (FILE:LINE) and what: "removed WHAT" ("would remove WHAT" when
    `dry_run`), or "not removed: WHAT, because WHY"."""
    base = Editor()
    already = floor_before(desired, now)
    units: list[tuple[Source, Editor]] = []
    whats: dict[Source, str] = {}
    for source, what in entries:
        unit = base.fork()
        whats[source] = what
        if unit.remove(source, f"{'would remove' if dry_run else 'removed'} {what}"):
            units.append((source, unit))
        else:
            base.skipped.append(
                f"{source}: not removed: {what}, because offboard cannot edit its entry: "
                "remove it by hand"
            )

    def check(files: list[FileEdit]) -> None:
        load_edited(desired, files, now=now, already=already)

    merged, files, refused = merge_passing(base, units, check)
    for (source, _), exc in refused:
        merged.skipped.append(
            f"{source}: not removed: {whats[source]}, because the manifests would not pass "
            f"their own checks without it: {'; '.join(exc.problems)} (add another admin "
            f"first)"
        )
    return Adoption(tuple(files), tuple(merged.adopted), (*base.skipped, *merged.skipped))


def _still_live(
    desired: Desired, live: Live, everything: Live, who: Person, *, now: float
) -> tuple[tuple[tuple[Grant, str], ...], tuple[str, ...]]:
    """The person's live access a merge of the edit does not end: on accounts the
    manifests do not manage, and on managed accounts that keep unlisted users (`prune:
    false`); and the accounts whose read may miss some."""
    managed = {a.scope for a in desired.accounts}
    kept = {a.scope for a in desired.accounts if not a.prune}
    rows: list[tuple[Grant, str]] = []
    for grant in grants_of(desired, live, now=now).grants:
        # Listed or not: once the edit removes the entry the person is an unlisted user
        # there, whom the plan leaves alone.
        if grant.scope in kept and _is(grant, who):
            rows.append((grant, "the account keeps unlisted users: prune is false"))
    unmanaged = Desired(
        accounts=tuple(_bare(a) for a in everything.accounts if a.scope not in managed)
    )
    rows += [
        (g, "the manifests do not manage this account")
        for g in grants_of(unmanaged, everything, now=now).grants
        if _is(g, who)
    ]
    # `everything` holds the managed accounts' read too, with the scopes it could not read.
    unread = [f"{item.scope}: {item.reason}" for item in everything.incomplete]
    return tuple(rows), tuple(unread)


def _is(grant: Grant, who: Person) -> bool:
    return any(grant.names(x) for x in _all(who))


def _all(who: Person) -> Iterable[str]:
    yield from sorted(who.user_ids)
    yield from sorted(who.addresses)


def _bare(account: LiveAccount) -> DesiredAccount:
    return DesiredAccount(id=account.id, name=account.name or None, prune=False, kind=account.kind)
