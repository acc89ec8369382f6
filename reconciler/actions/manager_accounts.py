"""Family: creating manager accounts (`createManagerAccount`, reference §2.3).

Manager accounts cannot be deleted or renamed through the API, so this family has one kind.
A create is sent one per call; Amazon does not refuse a second account of the same name
([UNK] reference §2.3), so the executor looks again right before sending (see
`reconciler.apply.check.read_home`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconciler.actions.base import others, require
from reconciler.api import AdsClient, BatchResult
from reconciler.model import DesiredManagerAccount, Live, ManagerAccountType
from reconciler.plan import PHASE_CREATE, Action, ActionKind, ManagerRef


def create(account: DesiredManagerAccount, account_type: ManagerAccountType, reason: str) -> Action:
    return Action(
        kind=ActionKind.CREATE_MANAGER_ACCOUNT,
        phase=PHASE_CREATE,
        target=account.name,
        manager=ManagerRef(name=account.name),
        manager_type=account_type,
        reason=reason,
    )


def created_ids(action: Action, fresh: Live, saved: Live) -> list[str]:
    """Ids of live manager accounts named like the one `action` creates that the plan's read
    did not see: the ones created since (by this apply, or behind its back)."""
    before = {m.id for m in saved.manager_accounts}
    return sorted(
        m.id for m in fresh.manager_accounts if m.name == action.target and m.id not in before
    )


class ManagerAccounts:
    kinds: tuple[ActionKind, ...] = (ActionKind.CREATE_MANAGER_ACCOUNT,)
    # How each kind reads at a glance (added, changed, removed) and in the summary line.
    symbols: Mapping[ActionKind, str] = MappingProxyType(
        {
            ActionKind.CREATE_MANAGER_ACCOUNT: "+",
        }
    )
    phrases: Mapping[ActionKind, str] = MappingProxyType(
        {
            ActionKind.CREATE_MANAGER_ACCOUNT: "to create",
        }
    )

    def check(self, action: Action) -> list[str]:
        problems = require(
            action,
            present=("manager", "manager_type"),
            absent=others("manager", "manager_type"),
        )
        if action.phase != PHASE_CREATE:
            problems.append(f"phase must be {PHASE_CREATE}")
        if action.manager is not None and (
            action.manager.id is not None or action.manager.name != action.target
        ):
            problems.append("a create names its manager account by the name it creates")
        return problems

    def describe(self, action: Action) -> str:
        kind = action.manager_type.value if action.manager_type else "?"
        return f'create manager account "{action.target}" ({kind})'

    def drift_target(self, action: Action) -> str:
        return f"manager-account:{action.target}"

    def limit(self, kind: ActionKind) -> int:
        return 1

    def batch_key(self, action: Action) -> tuple[Any, ...]:
        return (action.target,)

    def item(self, action: Action) -> dict[str, Any]:
        # `CreateManagerAccountRequest` (reference §2.3).
        assert action.manager_type is not None
        return {
            "managerAccountName": action.target,
            "managerAccountType": action.manager_type.value,
        }

    def item_key(self, kind: ActionKind, item: Mapping[str, Any]) -> str | None:
        value = item.get("managerAccountName")
        return str(value) if value else None

    def call(
        self,
        client: AdsClient,
        kind: ActionKind,
        actions: Sequence[Action],
        *,
        manager_id: str | None,
    ) -> BatchResult:
        (action,) = actions
        item = self.item(action)
        body = client.create_manager_account(
            item["managerAccountName"], ManagerAccountType(item["managerAccountType"])
        )
        return BatchResult(succeeded=(body,))

    def visible(self, action: Action, fresh: Live, saved: Live, *, manager_id: str | None) -> bool:
        return bool(created_ids(action, fresh, saved))
