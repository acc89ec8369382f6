"""Family: active users' permissions on AMC accounts (reference §5).

`set-role` is one `userPermissions` item of UpdateUserPermissions (roles upper-case there);
`revoke-user` one `users` item of DeleteUserPermissions (at most 200 per call). A promotion
to admin is a grant; a demotion to viewer runs with the removals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconciler.actions.base import others, require
from reconciler.api import AdsClient, BatchResult
from reconciler.api import operations as ops
from reconciler.model import AmcRole, Live, LiveUser
from reconciler.plan import PHASE_GRANT, PHASE_REMOVE, Action, ActionKind


def set_role(
    amc_account_id: str, user: LiveUser, role: AmcRole, *, label: str, reason: str
) -> Action:
    return Action(
        kind=ActionKind.SET_ROLE,
        phase=PHASE_GRANT if role is AmcRole.ADMIN else PHASE_REMOVE,
        target=user.user_id,
        amc_account_id=amc_account_id,
        role=role,
        old_role=user.role,
        label=label,
        reason=reason,
    )


def revoke_user(amc_account_id: str, user: LiveUser, *, reason: str) -> Action:
    return Action(
        kind=ActionKind.REVOKE_USER,
        phase=PHASE_REMOVE,
        target=user.user_id,
        amc_account_id=amc_account_id,
        role=user.role,
        label=user.email,
        reason=reason,
    )


class Permissions:
    kinds: tuple[ActionKind, ...] = (ActionKind.SET_ROLE, ActionKind.REVOKE_USER)
    # How each kind reads at a glance (added, changed, removed) and in the summary line.
    symbols: Mapping[ActionKind, str] = MappingProxyType(
        {
            ActionKind.SET_ROLE: "~",
            ActionKind.REVOKE_USER: "-",
        }
    )
    phrases: Mapping[ActionKind, str] = MappingProxyType(
        {
            ActionKind.SET_ROLE: "to change role",
            ActionKind.REVOKE_USER: "to revoke",
        }
    )

    def check(self, action: Action) -> list[str]:
        if action.kind is ActionKind.SET_ROLE:
            used: tuple[str, ...] = ("amc_account_id", "role", "old_role")
            problems = require(action, present=used, absent=others(*used))
            phase = PHASE_GRANT if action.role is AmcRole.ADMIN else PHASE_REMOVE
            if action.role is not None and action.role is action.old_role:
                problems.append("a role change changes the role")
        else:
            used = ("amc_account_id", "role")
            problems = require(action, present=used, absent=others(*used))
            phase = PHASE_REMOVE
        if action.phase != phase:
            problems.append(f"phase must be {phase}")
        if action.notify:
            problems.append("notify belongs to invitations only")
        return problems

    def describe(self, action: Action) -> str:
        role = action.role.value if action.role else "?"
        if action.kind is ActionKind.SET_ROLE:
            old = action.old_role.value if action.old_role else "?"
            return f"set role of {action.label} ({action.target}): {old} -> {role}"
        return f"revoke user {action.label} ({action.target}, {role})"

    def drift_target(self, action: Action) -> str:
        return f"user:{action.target}"

    def limit(self, kind: ActionKind) -> int:
        if kind is ActionKind.SET_ROLE:
            return ops.MAX_PERMISSION_UPDATES_PER_CALL
        return ops.MAX_DELETES_PER_CALL

    def batch_key(self, action: Action) -> tuple[Any, ...]:
        return (action.amc_account_id,)

    def item(self, action: Action) -> dict[str, Any]:
        if action.kind is ActionKind.SET_ROLE:
            assert action.role is not None
            return {
                "userId": action.target,
                "permissionSet": {"type": "ROLE", "role": action.role.value.upper()},
            }
        return {"userId": action.target}

    def item_key(self, kind: ActionKind, item: Mapping[str, Any]) -> str | None:
        value = item.get("userId") or item.get("identifier")
        return str(value) if value else None

    def call(
        self,
        client: AdsClient,
        kind: ActionKind,
        actions: Sequence[Action],
        *,
        manager_id: str | None,
    ) -> BatchResult:
        amc = str(actions[0].amc_account_id)
        items = [self.item(a) for a in actions]
        if kind is ActionKind.SET_ROLE:
            return client.update_user_permissions(amc, items)
        return client.delete_user_permissions(amc, [str(i["userId"]) for i in items])

    def visible(self, action: Action, fresh: Live, saved: Live, *, manager_id: str | None) -> bool:
        amc = fresh.reachable_amc(action.amc_account_id)
        if amc is None:
            return False
        if action.kind is ActionKind.SET_ROLE:
            return any(u.user_id == action.target and u.role is action.role for u in amc.users)
        return all(u.user_id != action.target for u in amc.users)
