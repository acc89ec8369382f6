"""Batching planned actions into API calls, and reading each call's per-item answer back.

Limits (reference §2.4, §4.2, §4.3, §5; `reconciler.api.operations`): associate and
disassociate take at most 20 accounts per call, one manager account, on the host of the
accounts' region, and one role per call ("only one role at a time is supported");
invitations and invitation updates at most 50 per call for one AMC account with one
`notifyInvitedUsers`; permission deletes at most 200. The plan lists actions in execution
order; only consecutive actions of one kind are batched, so the order between kinds holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.api import AdsClient, BatchResult
from reconciler.api import operations as ops
from reconciler.model import ManagerAccountType, Region
from reconciler.plan import Action, ActionKind

LIMITS: dict[ActionKind, int] = {
    ActionKind.CREATE_MANAGER_ACCOUNT: 1,  # createManagerAccount takes one account
    ActionKind.ASSOCIATE: ops.MAX_LINKS_PER_CALL,
    ActionKind.DISASSOCIATE: ops.MAX_LINKS_PER_CALL,
    ActionKind.INVITE: ops.MAX_INVITATIONS_PER_CALL,
    ActionKind.REVOKE_INVITATION: ops.MAX_INVITATIONS_PER_CALL,
    ActionKind.RESEND_INVITATION: ops.MAX_INVITATIONS_PER_CALL,
    ActionKind.SET_ROLE: ops.MAX_PERMISSION_UPDATES_PER_CALL,
    ActionKind.REVOKE_USER: ops.MAX_DELETES_PER_CALL,
}

Item = tuple[int, Action]  # (position in the plan, action)


@dataclass(frozen=True, slots=True)
class Batch:
    kind: ActionKind
    items: tuple[Item, ...]


def _group_key(action: Action) -> tuple[Any, ...]:
    if action.kind in (ActionKind.ASSOCIATE, ActionKind.DISASSOCIATE):
        roles = tuple(action.payload.get("roles") or ())
        manager = action.manager_account_id or f"name:{action.manager_account_name}"
        return (manager, action.region, roles)
    if action.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
        return (action.target,)
    return (action.amc_account_id, action.notify)


def make_batches(items: Sequence[Item]) -> list[Batch]:
    """Runs of consecutive same-kind actions, grouped by what one call can carry, chunked by
    the API's limit. Groups keep the order of their first action."""
    batches: list[Batch] = []
    run: list[Item] = []

    def flush() -> None:
        if not run:
            return
        groups: dict[tuple[Any, ...], list[Item]] = {}
        for item in run:
            groups.setdefault(_group_key(item[1]), []).append(item)
        limit = LIMITS[run[0][1].kind]
        for group in groups.values():
            for start in range(0, len(group), limit):
                batches.append(Batch(run[0][1].kind, tuple(group[start : start + limit])))
        run.clear()

    for item in items:
        if run and run[-1][1].kind is not item[1].kind:
            flush()
        run.append(item)
    flush()
    return batches


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the call answered, but tied none of its errors to this item


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    outcome: Outcome
    reason: str = ""
    created_id: str | None = None


def item_key(kind: ActionKind, item: Mapping[str, Any]) -> str | None:
    """The identity of one request item, or of one error's item, in a batch of `kind`."""
    value: Any
    if kind in (ActionKind.ASSOCIATE, ActionKind.DISASSOCIATE):
        value = item.get("id")
    elif kind is ActionKind.INVITE:
        user = item.get("user")
        value = (user.get("emailAddress") if isinstance(user, dict) else None) or item.get(
            "identifier"
        )
        return str(value).lower() if value else None
    elif kind in (ActionKind.REVOKE_INVITATION, ActionKind.RESEND_INVITATION):
        value = item.get("invitationId") or item.get("identifier")
    else:
        value = item.get("userId") or item.get("identifier")
    return str(value) if value else None


def send(client: AdsClient, batch: Batch, *, manager_id: str | None) -> dict[int, ItemOutcome]:
    """Send one batch as one call; the outcome of each item by plan position. Raises from
    `reconciler.errors` when the whole call fails (`OutcomeUnknownError` when its answer was
    lost)."""
    actions = [action for _, action in batch.items]
    first = actions[0]
    payloads = [dict(action.payload) for action in actions]
    if batch.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
        body = client.create_manager_account(
            str(first.payload["managerAccountName"]),
            ManagerAccountType(first.payload["managerAccountType"]),
        )
        new_id = body.get("managerAccountId")
        if not isinstance(new_id, str) or not new_id:
            return {
                batch.items[0][0]: ItemOutcome(
                    Outcome.UNKNOWN, "createManagerAccount answered without a managerAccountId"
                )
            }
        return {batch.items[0][0]: ItemOutcome(Outcome.OK, created_id=new_id)}
    result = _call(client, batch.kind, first, payloads, manager_id)
    failures: dict[str, str] = {}
    unmatched = 0
    keys = {item_key(batch.kind, p) for p in payloads}
    for failed in result.failed:
        key = item_key(batch.kind, failed.item)
        if key is None or key not in keys:
            unmatched += 1
            continue
        failures[key] = f"{failed.code}: {failed.message}" if failed.message else failed.code
    out: dict[int, ItemOutcome] = {}
    for (position, _), payload in zip(batch.items, payloads, strict=True):
        key = item_key(batch.kind, payload)
        if key in failures:
            out[position] = ItemOutcome(Outcome.FAILED, failures[key])
        elif unmatched:
            out[position] = ItemOutcome(
                Outcome.UNKNOWN, f"the call reported {unmatched} error(s) it tied to no item"
            )
        else:
            out[position] = ItemOutcome(Outcome.OK)
    return out


def _call(
    client: AdsClient,
    kind: ActionKind,
    first: Action,
    payloads: list[dict[str, Any]],
    manager_id: str | None,
) -> BatchResult:
    amc = str(first.amc_account_id)
    match kind:
        case ActionKind.ASSOCIATE | ActionKind.DISASSOCIATE:
            assert manager_id is not None
            region = first.region or Region.NA
            send_links = client.associate if kind is ActionKind.ASSOCIATE else client.disassociate
            return send_links(region, manager_id, payloads)
        case ActionKind.INVITE:
            return client.create_invitations(amc, payloads, notify=first.notify)
        case ActionKind.REVOKE_INVITATION | ActionKind.RESEND_INVITATION:
            return client.update_invitations(amc, payloads, notify=first.notify)
        case ActionKind.SET_ROLE:
            return client.update_user_permissions(amc, payloads)
        case ActionKind.REVOKE_USER:
            return client.delete_user_permissions(amc, [str(p["userId"]) for p in payloads])
    raise AssertionError(f"no call for {kind}")
