"""`reconciler adopt --expiring`: remove from the manifests every entry whose `expires:` has
passed or comes soon, for a pull request that a reviewer merges (the access ends) or amends
by moving the date. No live read: git alone says when access ends."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.manifest.edit import Editor, FileEdit
from reconciler.model import Desired, Source
from reconciler.plan import day
from reconciler.workflows.adopt import Adoption
from reconciler.workflows.gate import floor_before, load_edited, merge_passing


def expiring(desired: Desired, *, now: float, within_days: float) -> Adoption:
    """`adopt --expiring`: remove every entry whose `expires:` has passed or comes within
    `within_days`, for a pull request that a reviewer merges (the access ends) or amends
    by moving the date. No live read. An `expires:` on a group member removes the member
    from the group (the expiry applies wherever the group is used); on an entry, the entry.
    An account whose every entry goes is left with `users: []`.

    Under `prune: false` (the account's, or for a group member any account's using the
    group) removing an entry would leave its person alone, so the entry stays as the marker
    that ends the access: an `expires:` still to come is brought to today (merging ends the
    access at the next apply, as on `prune: true`), one already passed is left as it is and
    listed (the plan removes that person whatever prune says).

    The edited manifests must load. A removal they would not load without (the last admin
    of an account with `minAdmins`, say) is found by `_settle` and listed with why, for the
    reviewer to add an admin or move the date; the rest is made."""
    base = Editor()
    already = floor_before(desired, now)
    units: list[tuple[Source, Editor]] = []
    done: set[Source] = set()
    horizon = now + within_days * 86_400
    today = datetime.fromtimestamp(now, UTC).date().isoformat()  # 00:00 UTC: passed
    kept_by = {  # group -> an account using it that does not prune
        user.group: account
        for account in desired.accounts
        if not account.prune
        for user in account.users
        if user.group is not None
    }
    for account in desired.accounts:
        for user in account.users:
            if user.expires is None or user.expires > horizon or user.source is None:
                continue
            # The group entry's own `expires:` ends the group here; a member's ends the
            # member everywhere, so it leaves the group.
            own = _within(base.entry_range(user.source), user.source, user.expires_source)
            by_member = user.group is not None and user.pin_at is not None and not own
            target = user.pin_at if by_member and user.pin_at else user.source
            if target in done:
                continue
            done.add(target)
            state = "expired" if user.expires <= now else "expires"
            who = user.who
            if user.group is not None and not by_member:
                # The group entry goes, and with it every member's access here.
                ending = ", ".join(u.who for u in account.users if u.source == user.source)
                who = f"group {user.group} on {account.noun} ({ending})"
            what = f"{who} {state} on {day(user.expires)}"
            # Under `prune: false` an entry removed is an entry left alone: the access
            # would never end. The entry stays as the marker that ends it (the plan
            # removes an expired grant whatever prune says), its date brought to today.
            if by_member:
                loose = kept_by.get(user.group or "")
            else:
                loose = None if account.prune else account
            if loose is not None:
                if user.expires <= now:
                    base.skipped.append(
                        f"{target}: {what}: kept as the marker that ends the access on "
                        f"{loose.noun} (prune: false there: without the entry it would be left "
                        "alone); the plan removes them, and adopt removes the entry once "
                        "apply has revoked them"
                    )
                    continue
                unit = base.fork()
                ended = f"{what}: ended today, the entry kept as the marker (prune: false)"
                if unit.set_value(target, "expires", today, ended):
                    units.append((target, unit))
                else:
                    base.skipped += unit.skipped
                continue
            unit = base.fork()
            if unit.remove(target, what):
                units.append((target, unit))
            else:
                base.skipped += unit.skipped
    # Members of groups no account uses (yet): their entries end all the same.
    for members in desired.groups.values():
        for member in members:
            if member.expires is None or member.expires > horizon or member.source is None:
                continue
            if member.source in done:
                continue
            done.add(member.source)
            state = "expired" if member.expires <= now else "expires"
            unit = base.fork()
            if unit.remove(member.source, f"{member.who} {state} on {day(member.expires)}"):
                units.append((member.source, unit))
            else:
                base.skipped += unit.skipped

    def check(files: list[FileEdit]) -> None:
        load_edited(desired, files, now=now, already=already)

    merged, files, refused = merge_passing(base, units, check)
    for (_, unit), exc in refused:
        merged.skipped.append(
            f"{'; '.join(unit.adopted)}: not removed, because the manifests would not pass "
            f"their own checks without it: {'; '.join(exc.problems)} (or move the `expires:`)"
        )
    return Adoption(tuple(files), tuple(merged.adopted), (*base.skipped, *merged.skipped))


def _within(span: tuple[int, int] | None, entry: Source, at: Source | None) -> bool:
    return (
        span is not None
        and at is not None
        and at.file == entry.file
        and span[0] <= at.line <= span[1]
    )
