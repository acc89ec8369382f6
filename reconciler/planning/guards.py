"""Safety guards (peribolos `--maximum-removal-delta`).

Every violation is collected as a `Refusal` (guard, scope, what it counted, its limit, where
the limit came from, what lifts it); the plan is still made and shown with its refusals on
top, and is never applied. Lifting never makes the plan unsafe:

- incomplete read (`--allow-incomplete`): a scope whose read failed or may be incomplete
  gets no action at all, additions included (a failed read makes everything look
  missing; a manager account created on it could be a duplicate that can never be
  deleted). Without the flag the plan is refused; with it the scope is skipped and named.
- unresolved masked users (`--allow-unresolved`): they are already left untouched; the flag
  only accepts a plan that leaves them so.
- `maxRemovals` (default 10; `--max-removals`, `policy.maxRemovals`): removals over the
  whole plan.
- `maxRemovalFraction` (default 0.25) with a floor `removalFloor` (default 2) per scope (links
  of a manager account; users plus pending invitations of an AMC account): a scope may lose
  `max(removalFloor, floor(fraction * members))` members in one plan. The floor lets a small
  team's routine change through (two of seven leave: allowed), the fraction still stops a
  mass removal (five of seven: refused). An AMC account's own `policy:` may override both;
  a flag overrides every manifest value.
- minAdmins, counting active users only (invitations grant nothing until accepted):
  * a plan that leaves fewer active admins than `minAdmins` *and fewer than live has now* is
    refused, unless `--allow-fewer-admins`;
  * of the removals and demotions that would leave no active admin where there was one,
    one is held back for that account alone (so one admin stays), whatever the flags
    (nobody could manage the account's users until an invitation is accepted), and listed
    as kept back (drift); every other account's changes proceed;
  * live already below the minimum and the plan not reducing it: a warning, not a failure
    (e.g. a new admin is invited and has not accepted yet).
"""

from __future__ import annotations

import math
from collections import Counter

from reconciler.model import Live, Role, Scope
from reconciler.plan import ActionKind, Notice, Policy, Refusal
from reconciler.planning.draft import Draft


def _unread_scopes(draft: Draft, live: Live) -> dict[Scope, str]:
    """Every scope whose read failed or may be incomplete, with why: what the reader marked
    (a whole kind, `manager:*` / `amc:*`, included), and any scope with actions or members
    that `Live.unreadable` answers for (a 50-link list that may be truncated)."""
    found = {item.scope: item.reason for item in live.incomplete}
    for scope in {a.scope for a in draft.actions} | set(draft.members):
        reason = live.unreadable(scope)
        if reason is not None:
            found.setdefault(scope, reason)
    # A whole kind unread (`manager:*`) covers each of its accounts: name it once.
    return {
        scope: reason
        for scope, reason in found.items()
        if scope.key == "*" or scope.wildcard not in found
    }


def _in(scope: Scope, unread: Scope) -> bool:
    return scope == unread or (unread.key == "*" and unread.kind is scope.kind)


BUILT_IN = "built in"


def _refusal(
    scope: object, guard: str, counted: str, limit: str, source: str, lift: str, message: str
) -> Refusal:
    where = str(scope) if scope else ""
    return Refusal(
        where, guard, counted, limit, source, lift, f"{where}: {message}" if where else message
    )


def apply_guards(draft: Draft, live: Live, policy: Policy) -> list[Refusal]:
    """Drop what a lifting flag skips (reported in `draft.warnings`); return the refusals."""
    violations: list[Refusal] = []

    # A failed read is an error, not drift: a scope whose read failed or may be
    # incomplete gets no action at all, adds included (a failed read looks like everything
    # is missing). Without --allow-incomplete the plan is refused; with it, everything else
    # is planned and what was skipped is named.
    skipped: set[int] = set()
    for unread, reason in sorted(_unread_scopes(draft, live).items()):
        dropped = [a for a in draft.actions if _in(a.scope, unread)]
        what = f"{len(dropped)} planned action(s) not planned" if dropped else "nothing planned"
        if policy.allow_incomplete:
            skipped.update(id(a) for a in dropped)
            draft.unread.append(
                Notice(
                    str(unread),
                    f"read incomplete ({reason}): {what} here; planned again once a "
                    "complete read shows what is there",
                )
            )
        else:
            violations.append(
                _refusal(
                    unread,
                    "incomplete-read",
                    f"{len(dropped)} action(s) on a read that failed or may be incomplete "
                    f"({reason})",
                    "no action on such a read",
                    BUILT_IN,
                    "fix the read, or pass --allow-incomplete to plan everything else",
                    f"the live read failed or may be incomplete ({reason}). No action "
                    "is planned on such a read, not even an addition (everything would look "
                    "missing): fix the read, or pass --allow-incomplete to plan everything else",
                )
            )
    draft.actions = [a for a in draft.actions if id(a) not in skipped]

    for scope in sorted(draft.unresolved):
        groups = "; ".join(draft.unresolved[scope])
        if policy.allow_unresolved:
            draft.held.append(
                Notice(
                    str(scope),
                    f"masked users cannot be told apart ({groups}): left untouched until "
                    "`userId:` pins say who is who",
                )
            )
        else:
            violations.append(
                _refusal(
                    scope,
                    "unresolved-masked-users",
                    f"masked users that cannot be told apart ({groups})",
                    "no removal or role change on a guess",
                    BUILT_IN,
                    "pin `userId:` on the manifest entries, or pass --allow-unresolved to "
                    "plan while leaving them untouched",
                    f"masked users cannot be told apart ({groups}), and settling them "
                    "needs a removal or role change: pin `userId:` on the manifest entries, or "
                    "pass --allow-unresolved to plan while leaving them untouched",
                )
            )

    removals_by_scope = Counter(a.scope for a in draft.actions if a.is_removal)
    total = sum(removals_by_scope.values())
    if total > policy.max_removals:
        source = policy.source("maxRemovals")
        lift = (
            f"review the plan, then pass --max-removals {total} for this change, or set "
            f"`maxRemovals: {total}` in the manifests' `policy:`"
        )
        violations.append(
            _refusal(
                "",
                "max-removals",
                f"{total} removals",
                str(policy.max_removals),
                source,
                lift,
                f"the plan removes {total} links, users or invitations, more than the limit of "
                f"{policy.max_removals} ({source}): {lift}",
            )
        )
    for scope in sorted(removals_by_scope):
        count = removals_by_scope[scope]
        members = draft.members.get(scope, 0)
        fraction, floor, source = policy.removal_limits(None if scope.is_manager else scope.key)
        allowed = max(floor, math.floor(fraction * members + 1e-9))
        if count > allowed:
            share = count / members if members else 1.0
            needed = math.ceil(share * 100) / 100
            where = "" if scope.is_manager else " (or in this account's `policy:`)"
            lift = (
                f"review the plan, then pass --max-removal-fraction {needed:g} for this "
                f"change, or set `maxRemovalFraction: {needed:g}` in the manifests' "
                f"`policy:`{where}"
            )
            limit = f"{allowed} ({fraction:g} of {members}, at least {floor})"
            violations.append(
                _refusal(
                    scope,
                    "max-removal-fraction",
                    f"{count} of {members} live members ({share:.0%})",
                    limit,
                    source,
                    lift,
                    f"the plan removes {count} of {members} live members ({share:.0%}), "
                    f"more than the {limit} allowed ({source}): {lift}",
                )
            )
    violations.extend(_admin_guard(draft, policy, unread=tuple(_unread_scopes(draft, live))))
    return violations


def _hold_last_admins(draft: Draft, scope: Scope, admins: frozenset[str]) -> None:
    """Keep back one removal or demotion of a live admin of `scope` (a removal before a
    demotion, then by userId), so that one active admin stays; list it."""
    candidates = sorted(
        (
            a
            for a in draft.actions
            if a.scope == scope
            and a.target in admins
            and (
                a.kind is ActionKind.REVOKE_USER
                or (a.kind is ActionKind.SET_ROLE and a.role is not Role.ADMIN)
            )
        ),
        key=lambda a: (a.kind is not ActionKind.REVOKE_USER, a.target),
    )
    held = candidates[0]
    what = "revoking" if held.kind is ActionKind.REVOKE_USER else "demoting"
    who = f"{held.label} ({held.target})" if held.label else held.target
    draft.kept.append(
        Notice(
            str(scope),
            f"held: {what} {who} would leave no active admin; nobody could manage its "
            "users until an invitation is accepted. Keep or promote an admin in this "
            "apply (invite one, or pin one who is there) and the removal follows in a "
            "later one",
        )
    )
    draft.actions = [a for a in draft.actions if a is not held]


def _admin_guard(draft: Draft, policy: Policy, *, unread: tuple[Scope, ...] = ()) -> list[Refusal]:
    violations: list[Refusal] = []
    for scope in sorted(draft.admins):
        facts = draft.admins[scope]
        after = set(facts.admins)
        for action in draft.actions:
            if action.scope != scope:
                continue
            if action.kind is ActionKind.REVOKE_USER:
                after.discard(action.target)
            elif action.kind is ActionKind.SET_ROLE:
                if action.role is Role.ADMIN:
                    after.add(action.target)
                else:
                    after.discard(action.target)
        before_n, after_n = len(facts.admins), len(after)
        if after_n == 0 < before_n:
            # Checked before minAdmins: `minAdmins: 0` must not be a way to lock everyone out.
            # Held back for this account alone; every other account proceeds.
            _hold_last_admins(draft, scope, facts.admins)
            continue
        if after_n >= facts.min_admins or after_n >= before_n:
            # A read that failed says nothing about who is admin there: no count is claimed.
            if after_n < facts.min_admins and not any(_in(scope, u) for u in unread):
                draft.warnings.append(
                    Notice(
                        str(scope),
                        f"{after_n} active admin(s), fewer than minAdmins {facts.min_admins} "
                        f"({facts.source}); invited admins count once they accept",
                    )
                )
            continue
        if not policy.allow_fewer_admins:
            violations.append(
                _refusal(
                    scope,
                    "min-admins",
                    f"{after_n} active admin(s) left (now {before_n})",
                    f"minAdmins {facts.min_admins}",
                    facts.source,
                    "list more admins, lower minAdmins, or pass --allow-fewer-admins",
                    f"the plan leaves {after_n} active admin(s) (now {before_n}), fewer "
                    f"than minAdmins {facts.min_admins} ({facts.source}): list more admins, "
                    "lower minAdmins, or pass --allow-fewer-admins",
                )
            )
    return violations
