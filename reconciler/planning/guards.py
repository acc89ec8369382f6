"""Safety guards (issue #5 "Guards"; peribolos `--maximum-removal-delta`).

Every violation is collected as a `Refusal` (guard, scope, what it counted, its limit, where
the limit came from, what lifts it); the plan is still made and shown with its refusals on
top, and is never applied. Lifting never makes the plan unsafe:

- incomplete read (`--allow-incomplete`): the removals in that scope are dropped from the
  plan and reported; nothing is ever removed on a read that may be missing something. A
  manager account is not created on such a read either (the read may have missed it, and a
  duplicate can never be deleted); with the flag the create and its links are skipped.
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
  * a plan that leaves no active admin where there was one is refused, whatever the flags:
    nobody could manage the account's users until an invitation is accepted;
  * live already below the minimum and the plan not reducing it: a warning, not a failure
    (e.g. a new admin is invited and has not accepted yet).
"""

from __future__ import annotations

import math
from collections import Counter

from reconciler.model import AmcRole, Live, Scope
from reconciler.plan import Action, ActionKind, Notice, Policy, Refusal
from reconciler.planning.draft import Draft


def _incomplete_reason(live: Live, scope: Scope) -> str | None:
    # A manager account created by this plan is its scope by name, a live one by id: either
    # way `Live.unreadable` is the one answer.
    return live.unreadable(scope)


def _blocked(actions: list[Action]) -> list[Action]:
    """What an incomplete read forbids in a scope: every removal, and creating a manager
    account (the read may have missed the live one, and a duplicate can never be deleted,
    reference §2.3), with the links that would go to it."""
    if any(a.kind is ActionKind.CREATE_MANAGER_ACCOUNT for a in actions):
        return list(actions)
    return [a for a in actions if a.is_removal]


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
    by_scope: dict[Scope, list[Action]] = {}
    for action in draft.actions:
        by_scope.setdefault(action.scope, []).append(action)

    skipped: set[int] = set()
    for scope in sorted(by_scope):
        blocked = _blocked(by_scope[scope])
        if not blocked:
            continue
        reason = _incomplete_reason(live, scope)
        if reason is None:
            continue
        creates = blocked[0].kind is ActionKind.CREATE_MANAGER_ACCOUNT
        what = "creating this manager account" if creates else f"{len(blocked)} removal(s)"
        if policy.allow_incomplete:
            skipped.update(id(a) for a in blocked)
            draft.warnings.append(
                Notice(
                    str(scope),
                    f"{what} skipped: the live read may be incomplete ({reason}); planned "
                    "again once a complete read shows what is there",
                )
            )
        else:
            violations.append(
                _refusal(
                    scope,
                    "incomplete-read",
                    f"{what} wanted; the live read may be incomplete ({reason})",
                    "nothing removed or created on such a read",
                    BUILT_IN,
                    "fix the read, or pass --allow-incomplete to plan without it",
                    f"{what} wanted, but the live read may be incomplete ({reason}). "
                    "Nothing is removed or created on such a read: fix the read, or pass "
                    "--allow-incomplete to plan without it",
                )
            )
    draft.actions = [a for a in draft.actions if id(a) not in skipped]

    for scope in sorted(draft.unresolved):
        groups = "; ".join(draft.unresolved[scope])
        if policy.allow_unresolved:
            draft.warnings.append(
                Notice(str(scope), f"unresolved masked users left untouched ({groups})")
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
    violations.extend(_admin_guard(draft, policy))
    return violations


def _admin_guard(draft: Draft, policy: Policy) -> list[Refusal]:
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
                if action.role is AmcRole.ADMIN:
                    after.add(action.target)
                else:
                    after.discard(action.target)
        before_n, after_n = len(facts.admins), len(after)
        if after_n == 0 < before_n:
            # Checked before minAdmins: `minAdmins: 0` must not be a way to lock everyone out.
            violations.append(
                _refusal(
                    scope,
                    "no-admin",
                    f"0 active admins left (now {before_n})",
                    "at least 1",
                    BUILT_IN,
                    "no flag lifts this: keep or promote an admin in this apply and remove "
                    "the others in a later one",
                    f"the plan leaves no active admin (now {before_n}); nobody could "
                    "manage its users until an invitation is accepted. No flag lifts this: "
                    "keep or promote an admin in this apply and remove the others in a later "
                    "one",
                )
            )
            continue
        if after_n >= facts.min_admins or after_n >= before_n:
            if after_n < facts.min_admins:
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
