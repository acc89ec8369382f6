"""Family: invitations to accounts of every kind (reference §4.2, §4.3).

`invite` is one `userInvitationRequests` item of CreateUserInvitations; `revoke-invitation`
and `resend-invitation` are one `updates` item of UpdateUserInvitations (state REVOKED or
RESENT). At most 50 per call, for one account and one `notifyInvitedUsers`. An invitation
carries a role or a custom permission set and countries, spelled as the kind's row in `KINDS`
says (AMC roles are lower-case in invitations). An invitation grants nothing until accepted,
so a re-issue (revoke the wrong-role invitation, invite again) runs in the grant phase; a
revoke because nobody lists the person any more is a removal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconciler.actions.base import others, require
from reconciler.addresses import unambiguous
from reconciler.api import AdsClient, BatchResult
from reconciler.api import operations as ops
from reconciler.api.grants import checked, invitation_request
from reconciler.model import Grant, Live, LiveInvitation, Scope, canonical_email
from reconciler.plan import PHASE_GRANT, PHASE_REMOVE, Action, ActionKind


def invite(
    account: Scope, email: str, grant: Grant, user_name: str, *, notify: bool, reason: str
) -> Action:
    return Action(
        kind=ActionKind.INVITE,
        phase=PHASE_GRANT,
        target=email,
        account=account,
        role=grant.role,
        permissions=grant.permissions,
        countries=grant.countries,
        user_name=user_name,
        notify=notify,
        reason=reason,
    )


def revoke(account: Scope, invitation: LiveInvitation, *, phase: int, reason: str) -> Action:
    """Revoke (or resend, below) a pending invitation. The action carries what it grants
    (a role, or a custom set, and countries) so that the plan shows exactly what goes."""
    return Action(
        kind=ActionKind.REVOKE_INVITATION,
        phase=phase,
        target=invitation.invitation_id,
        account=account,
        email=invitation.email,
        role=invitation.role,
        permissions=invitation.grant.permissions if invitation.grant else (),
        countries=invitation.grant.countries if invitation.grant else (),
        reason=reason,
    )


def resend(account: Scope, invitation: LiveInvitation, *, notify: bool, reason: str) -> Action:
    return Action(
        kind=ActionKind.RESEND_INVITATION,
        phase=PHASE_GRANT,
        target=invitation.invitation_id,
        account=account,
        email=invitation.email,
        role=invitation.role,
        permissions=invitation.grant.permissions if invitation.grant else (),
        countries=invitation.grant.countries if invitation.grant else (),
        notify=notify,
        reason=reason,
    )


class Invitations:
    kinds: tuple[ActionKind, ...] = (
        ActionKind.INVITE,
        ActionKind.REVOKE_INVITATION,
        ActionKind.RESEND_INVITATION,
    )
    # How each kind reads at a glance (added, changed, removed) and in the summary line.
    symbols: Mapping[ActionKind, str] = MappingProxyType(
        {
            ActionKind.INVITE: "+",
            ActionKind.RESEND_INVITATION: "~",
            ActionKind.REVOKE_INVITATION: "-",
        }
    )
    phrases: Mapping[ActionKind, str] = MappingProxyType(
        {
            ActionKind.INVITE: "to invite",
            ActionKind.RESEND_INVITATION: "to resend",
            ActionKind.REVOKE_INVITATION: "to revoke",
        }
    )

    def check(self, action: Action) -> list[str]:
        if action.kind is ActionKind.INVITE:
            used: tuple[str, ...] = ("account", "user_name")
            problems = require(
                action, present=used, absent=others(*used, "role", "permissions", "countries")
            )
            if "@" not in action.target:
                problems.append("an invitation goes to an email address")
            phases: tuple[int, ...] = (PHASE_GRANT,)
        else:
            used = ("account", "email")
            held = ("role", "permissions", "countries")
            problems = require(action, present=used, absent=others(*used, *held))
            is_resend = action.kind is ActionKind.RESEND_INVITATION
            phases = (PHASE_GRANT,) if is_resend else (PHASE_GRANT, PHASE_REMOVE)
            if action.notify and not is_resend:
                problems.append("notify belongs to invitations and resends only")
        # The grant is checked against its kind: an invitation's always; a revoked or resent
        # one's unless it holds neither a role nor a set (a grant not read exactly, said as
        # such), a role alone included (the reader keeps only the kind's roles).
        shown = action.role or action.permissions or action.countries
        if action.account is not None and (action.kind is ActionKind.INVITE or shown):
            try:
                checked(action.account.kind, action.grant)
            except ValueError as exc:
                problems.append(f"the grant: {exc}")
        if action.phase not in phases:
            problems.append(f"phase must be {' or '.join(map(str, phases))}")
        return problems

    def describe(self, action: Action) -> str:
        # What the invitation grants, as read; a grant not read exactly is said as such.
        role = (
            str(action.grant) if action.role or action.permissions else "a grant not read exactly"
        )
        match action.kind:
            case ActionKind.INVITE:
                return f"invite {unambiguous(action.target)} as {action.grant}"
            case ActionKind.RESEND_INVITATION:
                return f"resend invitation to {unambiguous(action.email or '')} ({role})"
        again = ", to re-issue it" if action.phase == PHASE_GRANT else ""
        email = unambiguous(action.email or "")
        return f"revoke invitation of {email} ({action.target}, {role}{again})"

    def drift_target(self, action: Action) -> str:
        # An invite is known by its address; a live invitation by its id.
        if action.kind is ActionKind.INVITE:
            return f"address:{canonical_email(action.target)}"
        return f"invitation:{action.target}"

    def limit(self, kind: ActionKind) -> int:
        return ops.MAX_INVITATIONS_PER_CALL

    def batch_key(self, action: Action) -> tuple[Any, ...]:
        return (action.account, action.notify)

    def item(self, action: Action) -> dict[str, Any]:
        if action.kind is ActionKind.INVITE:
            assert action.account is not None
            return invitation_request(
                action.account.kind,
                email=action.target,
                name=action.user_name or "",
                grant=action.grant,
            )
        state = "RESENT" if action.kind is ActionKind.RESEND_INVITATION else "REVOKED"
        return {"invitationId": action.target, "state": state}

    def item_key(self, kind: ActionKind, item: Mapping[str, Any]) -> str | None:
        if kind is ActionKind.INVITE:
            user = item.get("user")
            value = (user.get("emailAddress") if isinstance(user, dict) else None) or item.get(
                "identifier"
            )
            return canonical_email(str(value)) if value else None
        value = item.get("invitationId") or item.get("identifier")
        return str(value) if value else None

    def call(
        self,
        client: AdsClient,
        kind: ActionKind,
        actions: Sequence[Action],
        *,
        manager_id: str | None,
    ) -> BatchResult:
        first = actions[0]
        amc = first.scope
        items = [self.item(a) for a in actions]
        if kind is ActionKind.INVITE:
            return client.create_invitations(amc, items, notify=first.notify)
        return client.update_invitations(amc, items, notify=first.notify)

    def visible(self, action: Action, fresh: Live, saved: Live, *, manager_id: str | None) -> bool:
        amc = fresh.reachable(action.account)
        if amc is None:
            return False
        before = _saved(saved, amc.scope)
        match action.kind:
            case ActionKind.INVITE:
                email = canonical_email(action.target)
                want = checked(amc.kind, action.grant)
                return any(
                    canonical_email(i.email) == email
                    and (i.grant == want if i.grant is not None else i.role is action.role)
                    and i.invitation_id not in before
                    for i in amc.invitations
                )
            case ActionKind.REVOKE_INVITATION:
                return all(i.invitation_id != action.target for i in amc.invitations)
        old = before.get(action.target)
        old_expiry = old.expires_at if old is not None else None
        return any(
            i.invitation_id == action.target
            and i.expires_at is not None
            and (old_expiry is None or i.expires_at > old_expiry)
            for i in amc.invitations
        )


def _saved(saved: Live, scope: Scope) -> dict[str, LiveInvitation]:
    for account in saved.accounts:
        if account.scope == scope:
            return {i.invitation_id: i for i in account.invitations}
    return {}
