"""The `minAdmins` floor over time: `validate`'s check of what `expires:` does
to the admins an account lists.

Loading counts every admin entry as written (manifests load the same whatever the date), so
this check is separate and takes the time: from its `expires:` an admin entry counts as
absent, and the plan would remove that admin. An account (with `prune`, where the
manifests are the whole truth, as in the load check) whose admins not yet expired are fewer
than `minAdmins` is an error; one that falls under it within `--expiring-within` is a
warning, so the pull request that adds the `expires:`, or the nightly expiring job, says
so before the day comes.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import Diagnostic
from reconciler.model import KINDS, Desired, DesiredAccount, DesiredUser, Role, Source
from reconciler.plan import day

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class AdminFloor:
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    failing: tuple[str, ...] = ()  # the account (its id) of each error, in order


def _where(user: DesiredUser, fallback: Source) -> Source:
    return user.expires_source or user.source or fallback


def _named(account: DesiredAccount) -> str:
    """`DSP account `ENTITY1...``: the account by its own kind, as the load check says it."""
    noun = KINDS[account.kind].noun
    return f"{noun[:1].upper()}{noun[1:]} `{account.id}`"


def admin_floor(desired: Desired, *, now: float, within_days: float) -> AdminFloor:
    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    failing: list[str] = []
    horizon = now + within_days * DAY
    for account in desired.accounts:
        if not account.prune or account.source is None:
            continue
        admins = [u for u in account.users if u.role is Role.ADMIN]
        if len(admins) < account.min_admins:
            continue  # the load check already says so
        expired = sorted((u for u in admins if u.expired(now)), key=lambda u: u.expires or 0.0)
        active = len(admins) - len(expired)
        if expired and active < account.min_admins:
            last = expired[-1]
            at = _where(last, account.source)
            names = ", ".join(f"{u.who} on {day(u.expires or 0.0)}" for u in expired)
            failing.append(account.id)
            errors.append(
                Diagnostic(
                    at.file,
                    at.line,
                    at.col,
                    f"{_named(account)} has {active} admin(s) left, fewer than "
                    f"minAdmins {account.min_admins}: the admin grant of {names} expired "
                    "(`expires:`), so the plan would remove it; add an admin, move the "
                    "`expires:`, or lower `minAdmins`",
                )
            )
            continue
        ending = sorted(
            (u for u in admins if u.expires is not None and now < u.expires <= horizon),
            key=lambda u: u.expires or 0.0,
        )
        remaining = active
        for user in ending:
            remaining -= 1
            if remaining < account.min_admins:
                at = _where(user, account.source)
                warnings.append(
                    Diagnostic(
                        at.file,
                        at.line,
                        at.col,
                        f"{_named(account)} will have {remaining} admin(s) from "
                        f"{day(user.expires or 0.0)}, when the admin grant of {user.who} "
                        f"expires: fewer than minAdmins {account.min_admins}, so the plan "
                        "will refuse to remove it; add an admin, move the `expires:`, or "
                        "lower `minAdmins`",
                    )
                )
                break
    return AdminFloor(tuple(errors), tuple(warnings), tuple(failing))
