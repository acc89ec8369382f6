"""`policy.protectedUsers`: people the planner never removes, demotes, or whose invitation it
revokes (break-glass accounts, the account the tool itself runs as).

An entry is a userId or an address. A userId matches a live user by id. An address matches a
live user's or an invitation's address exactly, in canonical form (`model.canonical_email`).
A masked live address (`a***@example.com`) is never taken to *be* a protected address
(evidence before access): that would be a guess. But a guess may hold a change
back, so every live user whose masked address could be the protected one is kept too, with a
warning that says so. Whatever is kept is reported as a warning naming the rule's location.
"""

from __future__ import annotations

from reconciler.model import AmcRole, Live, canonical_email
from reconciler.plan import PHASE_GRANT, Action, ActionKind, Notice, Policy, Protected
from reconciler.planning.draft import Draft
from reconciler.planning.identity import masked_matches


def _address(action: Action, live: Live) -> str:
    """The live address behind an action (masked or not), "" when there is none."""
    if action.kind is ActionKind.REVOKE_INVITATION:
        return action.email or ""
    for account in live.amc_accounts:
        if account.id == action.amc_account_id:
            for user in account.users:
                if user.user_id == action.target:
                    return user.email
    return action.label


def _takes_away(action: Action) -> bool:
    if action.kind is ActionKind.REVOKE_USER:
        return True
    if action.kind is ActionKind.REVOKE_INVITATION:
        # In phase 1 it is half of a re-issue with another role: a demotion only from admin.
        return action.phase != PHASE_GRANT or action.role is AmcRole.ADMIN
    return (
        action.kind is ActionKind.SET_ROLE
        and action.old_role is AmcRole.ADMIN
        and action.role is not AmcRole.ADMIN
    )


def _match(action: Action, address: str, rule: Protected) -> str | None:
    """ "exact" when `rule` names this target, "guess" when only a masked address could be
    it, None otherwise."""
    if not rule.is_address:
        by_id = action.kind is not ActionKind.REVOKE_INVITATION and action.target == rule.who
        return "exact" if by_id else None
    live = canonical_email(address)
    if "*" not in live:
        return "exact" if live == rule.who else None
    return "guess" if masked_matches(live, rule.who) else None


def keep_protected(draft: Draft, live: Live, policy: Policy) -> None:
    """Drop every action that would take access away from a protected user; warn for each."""
    if not policy.protected_users:
        return
    dropped: set[int] = set()
    for action in draft.actions:
        if not _takes_away(action):
            continue
        address = _address(action, live)
        found = [
            (how, rule) for rule in policy.protected_users if (how := _match(action, address, rule))
        ]
        if not found:
            continue
        # A rule that names the target wins over one a masked address could only guess at.
        how, rule = min(found, key=lambda pair: (pair[0] != "exact", pair[1]))
        dropped.add(id(action))
        who = f"{address} ({action.target})" if address else action.target
        what = {
            ActionKind.REVOKE_USER: "revoking",
            ActionKind.REVOKE_INVITATION: "revoking the invitation of",
            ActionKind.SET_ROLE: "demoting",
        }[action.kind]
        if how == "exact":
            message = (
                f"kept: {what} {who} not planned; protected by policy.protectedUsers "
                f"{rule.who} at {rule.source}"
            )
        else:
            message = (
                f"kept: {what} {who} not planned; its masked address could be the "
                f"protected {rule.who} (policy.protectedUsers at {rule.source}), and a "
                "guess never removes access: pin the protected user by `userId` in "
                "policy.protectedUsers to settle it"
            )
        draft.warnings.append(Notice(str(action.scope), message))
    # A protected invitation re-issued with a lesser role would be a demotion in two steps:
    # keep the re-issue out as well when its revoke was kept.
    kept_revokes = {
        (a.amc_account_id, (a.email or "").lower())
        for a in draft.actions
        if id(a) in dropped and a.kind is ActionKind.REVOKE_INVITATION and a.phase == PHASE_GRANT
    }
    for action in draft.actions:
        if (
            action.kind is ActionKind.INVITE
            and (action.amc_account_id, action.target.lower()) in kept_revokes
        ):
            dropped.add(id(action))
    draft.actions = [a for a in draft.actions if id(a) not in dropped]
