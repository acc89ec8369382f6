"""Family: linked accounts of a manager account (reference §2.4, §2.5).

`associate` and `disassociate` carry at most 20 accounts per call, for one manager account,
on the host of the accounts' region, with one role per call ("only one role at a time is
supported"). `GET /managerAccounts` does not return link roles (§2.2), so a role can be
sent on associate but never verified."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconciler.actions.base import others, require
from reconciler.api import AdsClient, BatchResult
from reconciler.api import operations as ops
from reconciler.model import DesiredLink, IdType, Live, LiveLink, Region
from reconciler.plan import PHASE_GRANT, PHASE_REMOVE, Action, ActionKind, ManagerRef


def associate(manager: ManagerRef, link: DesiredLink, reason: str) -> Action:
    return Action(
        kind=ActionKind.ASSOCIATE,
        phase=PHASE_GRANT,
        target=link.id,
        manager=manager,
        id_type=link.id_type,
        region=link.region,
        link_role=link.role,
        reason=reason,
    )


def disassociate(manager: ManagerRef, link: LiveLink, reason: str) -> Action:
    # [UNK] reference §2.5: whether `roles` is needed on disassociate. We send none, since
    # the live role is unknown. A DSP advertiser is named the way it is associated: by its
    # DSP advertiser id.
    if link.account_type == "DSP_ADVERTISING_ACCOUNT" and link.dsp_advertiser_id:
        target, id_type = link.dsp_advertiser_id, IdType.DSP_ADVERTISER_ID
        label = f"account {link.account_id} {link.account_name}".strip()
    else:
        target, id_type, label = link.account_id, IdType.ACCOUNT_ID, link.account_name
    return Action(
        kind=ActionKind.DISASSOCIATE,
        phase=PHASE_REMOVE,
        target=target,
        manager=manager,
        id_type=id_type,
        region=link.region,
        label=label,
        reason=reason,
    )


class Links:
    kinds: tuple[ActionKind, ...] = (ActionKind.ASSOCIATE, ActionKind.DISASSOCIATE)
    # How each kind reads at a glance (added, changed, removed) and in the summary line.
    symbols: Mapping[ActionKind, str] = MappingProxyType(
        {
            ActionKind.ASSOCIATE: "+",
            ActionKind.DISASSOCIATE: "-",
        }
    )
    phrases: Mapping[ActionKind, str] = MappingProxyType(
        {
            ActionKind.ASSOCIATE: "to associate",
            ActionKind.DISASSOCIATE: "to disassociate",
        }
    )

    def check(self, action: Action) -> list[str]:
        used = ("manager", "id_type", "region")
        if action.kind is ActionKind.ASSOCIATE:
            problems = require(action, present=used, absent=others(*used, "link_role"))
            phase = PHASE_GRANT
        else:
            problems = require(action, present=used, absent=others(*used))
            phase = PHASE_REMOVE
        if action.phase != phase:
            problems.append(f"phase must be {phase}")
        if action.kind is ActionKind.DISASSOCIATE and action.manager and action.manager.id is None:
            problems.append("a disassociate needs the live manager account id")
        return problems

    def describe(self, action: Action) -> str:
        dsp = "DSP advertiser " if action.id_type is IdType.DSP_ADVERTISER_ID else ""
        region = action.region.value if action.region else "?"
        what = f"{dsp}{action.target} ({region})"
        if action.kind is ActionKind.ASSOCIATE:
            return f"associate {what}" + (f" as {action.link_role}" if action.link_role else "")
        return f"disassociate {what}" + (f" {action.label}" if action.label else "")

    def drift_target(self, action: Action) -> str:
        id_type = action.id_type.value if action.id_type else ""
        return f"link:{id_type}:{action.target}"

    def limit(self, kind: ActionKind) -> int:
        return ops.MAX_LINKS_PER_CALL

    def batch_key(self, action: Action) -> tuple[Any, ...]:
        assert action.manager is not None
        return (action.manager, action.region, action.link_role)

    def item(self, action: Action) -> dict[str, Any]:
        # `AccountToUpdate` (reference §2.4). No `roles` lets Amazon pick its default role.
        assert action.id_type is not None
        item: dict[str, Any] = {"id": action.target, "type": action.id_type.value}
        if action.link_role is not None:
            item["roles"] = [action.link_role.value]
        return item

    def item_key(self, kind: ActionKind, item: Mapping[str, Any]) -> str | None:
        value = item.get("id")
        return str(value) if value else None

    def call(
        self,
        client: AdsClient,
        kind: ActionKind,
        actions: Sequence[Action],
        *,
        manager_id: str | None,
    ) -> BatchResult:
        assert manager_id is not None
        region = actions[0].region or Region.NA
        send = client.associate if kind is ActionKind.ASSOCIATE else client.disassociate
        return send(region, manager_id, [self.item(a) for a in actions])

    def visible(self, action: Action, fresh: Live, saved: Live, *, manager_id: str | None) -> bool:
        account = next((m for m in fresh.manager_accounts if m.id == manager_id), None)
        if account is None or action.id_type is None:
            return False
        want = DesiredLink(id=action.target, id_type=action.id_type)
        linked = any(x.matches(want) for x in account.links)
        return linked if action.kind is ActionKind.ASSOCIATE else not linked
