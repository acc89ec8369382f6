"""Family: active users' permissions on accounts of every kind (reference §5, §5.1).

`set-role` is one `userPermissions` item of UpdateUserPermissions: a role (upper-case there)
or a custom permission set, with countries where the kind takes them; `revoke-user` one
`users` item of DeleteUserPermissions (at most 200 per call). A promotion is a grant; any
other change runs with the removals (`change_phase`). The account's header comes from its
kind's row in `KINDS`, through the client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconciler.actions.base import others, require
from reconciler.api import AdsClient, BatchResult
from reconciler.api import operations as ops
from reconciler.api.grants import checked, permission_update
from reconciler.model import KINDS, Grant, Live, LiveUser, Role, Scope
from reconciler.plan import PHASE_GRANT, PHASE_REMOVE, Action, ActionKind

_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


def change_phase(new: Grant, old: Grant) -> int:
    """A change that takes nothing away is a grant (phase 1): to admin, or from a role to a
    higher one, over at least the countries held (none: the whole account). Any other
    change (a demotion, admin or a role over fewer countries, a custom set changed or
    swapped for a role) runs with the removals, after every grant of its account held."""
    covers = not new.countries or (bool(old.countries) and set(new.countries) >= set(old.countries))
    if not covers:
        return PHASE_REMOVE
    if new.role is Role.ADMIN:
        return PHASE_GRANT
    if new.role is not None and old.role is not None and _RANK[new.role] > _RANK[old.role]:
        return PHASE_GRANT
    return PHASE_REMOVE


def set_role(account: Scope, user: LiveUser, grant: Grant, *, label: str, reason: str) -> Action:
    """One `PUT /userPermissions` item: `user`'s grant becomes `grant` (a role or a custom
    set, and countries). `user.grant` is what they hold (read exactly)."""
    old = user.grant or Grant(user.role)
    return Action(
        kind=ActionKind.SET_ROLE,
        phase=change_phase(grant, old),
        target=user.user_id,
        account=account,
        role=grant.role,
        permissions=grant.permissions,
        countries=grant.countries,
        old_role=old.role,
        old_permissions=old.permissions,
        old_countries=old.countries,
        label=label,
        reason=reason,
    )


def revoke_user(account: Scope, user: LiveUser, *, reason: str) -> Action:
    """One `userPermissions/delete` item; the grant held is kept for people."""
    old = user.grant or Grant(user.role)
    return Action(
        kind=ActionKind.REVOKE_USER,
        phase=PHASE_REMOVE,
        target=user.user_id,
        account=account,
        role=old.role,
        old_permissions=old.permissions,
        old_countries=old.countries,
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
            ActionKind.SET_ROLE: "to change access",
            ActionKind.REVOKE_USER: "to revoke",
        }
    )

    def check(self, action: Action) -> list[str]:
        grants = ("role", "permissions", "countries")
        olds = ("old_role", "old_permissions", "old_countries")
        if action.kind is ActionKind.SET_ROLE:
            problems = require(
                action, present=("account",), absent=others("account", *grants, *olds)
            )
            problems += _grant_problems(action, action.grant, "the new")
            problems += _grant_problems(action, action.old_grant, "the held")
            phase = change_phase(action.grant, action.old_grant)
            if action.grant == action.old_grant:
                problems.append("a permission change changes the permissions")
        else:
            used = ("account", "role", "old_permissions", "old_countries")
            problems = require(action, present=("account",), absent=others(*used))
            problems += _grant_problems(action, action.old_grant, "the held")
            phase = PHASE_REMOVE
        if action.phase != phase:
            problems.append(f"phase must be {phase}")
        if action.notify:
            problems.append("notify belongs to invitations only")
        return problems

    def describe(self, action: Action) -> str:
        if action.kind is ActionKind.SET_ROLE:
            what = "role" if action.role is not None and action.old_role is not None else "access"
            return (
                f"set {what} of {action.label} ({action.target}): "
                f"{action.old_grant} -> {action.grant}"
            )
        return f"revoke user {action.label} ({action.target}, {action.old_grant})"

    def drift_target(self, action: Action) -> str:
        return f"user:{action.target}"

    def limit(self, kind: ActionKind) -> int:
        if kind is ActionKind.SET_ROLE:
            return ops.MAX_PERMISSION_UPDATES_PER_CALL
        return ops.MAX_DELETES_PER_CALL

    def batch_key(self, action: Action) -> tuple[Any, ...]:
        return (action.account,)

    def item(self, action: Action) -> dict[str, Any]:
        if action.kind is ActionKind.SET_ROLE:
            assert action.account is not None
            return permission_update(action.account.kind, user_id=action.target, grant=action.grant)
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
        amc = actions[0].scope
        items = [self.item(a) for a in actions]
        if kind is ActionKind.SET_ROLE:
            return client.update_user_permissions(amc, items)
        return client.delete_user_permissions(amc, [str(i["userId"]) for i in items])

    def visible(self, action: Action, fresh: Live, saved: Live, *, manager_id: str | None) -> bool:
        amc = fresh.reachable(action.account)
        if amc is None:
            return False
        if action.kind is ActionKind.SET_ROLE:
            want = checked(amc.kind, action.grant)
            return any(u.user_id == action.target and u.grant == want for u in amc.users)
        return all(u.user_id != action.target for u in amc.users)


def _grant_problems(action: Action, grant: Grant, which: str) -> list[str]:
    """Whether `grant` is one the action's kind of account takes (`KINDS`)."""
    if action.account is None:
        return []
    try:
        checked(action.account.kind, grant)
    except ValueError as exc:
        return [f"{which} grant: {exc}"]
    if grant.countries and not KINDS[action.account.kind].countries:
        return [f"{which} grant names countries"]
    return []
