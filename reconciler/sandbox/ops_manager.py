"""Manager Accounts API (reference §2; spec S-MA/S-MA2)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.model import LinkRole, ScopeKind
from reconciler.sandbox import constants as c
from reconciler.sandbox.state import Account, Advertiser, Link, Manager, World
from reconciler.sandbox.wire import ApiFailure, Call, Response, Route, json_response

_ID_TYPES = ("ACCOUNT_ID", "DSP_ADVERTISER_ID")
_ROLES = tuple(r.value for r in LinkRole)


def account_json(account: Advertiser) -> dict[str, Any]:
    """S-MA `Account`. `dspAdvertiserId`/`profileId` are "null for other account types";
    the schema types them as plain strings, so the sandbox leaves the key out instead."""
    out: dict[str, Any] = {
        "accountId": account.account_id,
        "accountName": account.name,
        "accountType": account.account_type,
        "marketplaceId": account.marketplace_id,
    }
    if account.dsp_advertiser_id is not None:
        out["dspAdvertiserId"] = account.dsp_advertiser_id
    if account.profile_id is not None:
        out["profileId"] = account.profile_id
    return out


def manager_json(world: World, manager: Manager, call: Call) -> dict[str, Any]:
    # Reference §1.1: a host only shows links whose marketplace is in its region; S-MA2:
    # at most 50 linked accounts are returned per manager account, silently.
    linked = [world.advertisers[link.account_id] for link in manager.links]
    visible = [a for a in linked if a.region is call.region][: c.MAX_LINKED_RETURNED]
    return {
        "managerAccountId": manager.manager_id,
        "managerAccountName": manager.name,
        "linkedAccounts": [account_json(a) for a in visible],
    }


def list_managers(call: Call) -> Response:
    """getManagerAccountsForUser: every manager account of the caller, no pagination."""
    body = {
        "managerAccounts": [manager_json(call.world, m, call) for m in call.world.managers.values()]
    }
    return json_response(200, body, c.MT_GET_MANAGER_ACCOUNTS)


def create_manager(call: Call) -> Response:
    """createManagerAccount: 200 with the new, empty manager account (reference §2.3)."""
    body = call.body
    if not isinstance(body, dict):
        raise ApiFailure(400, "the body must be a JSON object")
    name = body.get("managerAccountName")
    kind = body.get("managerAccountType")
    if not isinstance(name, str) or not name.strip():
        raise ApiFailure(400, "managerAccountName is required and must be a non-empty string")
    if kind not in ("Advertiser", "Agency"):
        raise ApiFailure(
            400, f"managerAccountType {kind!r} must be `Advertiser` or `Agency` (title-case)"
        )
    # [UNK] whether Amazon refuses a duplicate name. Decision: it does not (names are not
    # identities in the API); the planner is the one that refuses ambiguous names.
    manager_id = f"amzn1.ads1.ma1.sandbox{call.world.next_id():06d}"
    manager = Manager(manager_id, name, kind)
    call.world.managers[manager_id] = manager
    # [UNK] whether the creator is listed as the new account's ADMIN: the sandbox has no
    # user behind its credentials, so the account starts with nobody on it.
    call.world.store(Account(manager_id, name, kind=ScopeKind.MANAGER))
    return json_response(200, manager_json(call.world, manager, call), c.MT_MANAGER_ACCOUNT)


def _accounts(call: Call) -> list[Any]:
    body = call.body
    if not isinstance(body, dict) or not isinstance(body.get("accounts"), list):
        raise ApiFailure(400, 'the body must be {"accounts": [{"id", "type", "roles"}]}')
    accounts: list[Any] = body["accounts"]
    if not accounts:
        raise ApiFailure(400, "accounts must list at least one account")
    if len(accounts) > c.MAX_LINKS_PER_CALL:
        raise ApiFailure(
            400,
            f"{len(accounts)} accounts in one call: the limit is {c.MAX_LINKS_PER_CALL}; "
            "split the request",
        )
    for item in accounts:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ApiFailure(400, "each account needs a string `id`")
        if item.get("type") not in _ID_TYPES:
            raise ApiFailure(400, f"account type {item.get('type')!r} must be one of {_ID_TYPES}")
        roles = item.get("roles", [])
        if not isinstance(roles, list) or any(r not in _ROLES for r in roles):
            raise ApiFailure(400, f"roles must be a list of {', '.join(_ROLES)}")
    return accounts


def _failure(item: Any, message: str) -> dict[str, Any]:
    return {"account": item, "error": {"code": "BAD_REQUEST", "message": message}}


def _update_links(call: Call, *, link: bool) -> Response:
    """LinkAdvertisingAccountsToManagerAccountPublicAPI / Unlink...: 207, each account on
    its own. Decision ([UNK] §2.4/2.5): linking a linked account and unlinking an unlinked
    one succeed (idempotent), so a client may safely retry after a lost response."""
    world = call.world
    manager_id = call.params["managerAccountId"]
    accounts = _accounts(call)
    manager = world.managers.get(manager_id)
    if manager is None:
        raise ApiFailure(403, f"no access to manager account {manager_id!r}")
    succeeded: list[Any] = []
    failed: list[Any] = []
    links = list(manager.links)
    for item in accounts:
        account = world.find_advertiser(item["type"], item["id"])
        if account is None:
            failed.append(
                _failure(item, f"{item['type']} {item['id']} is not an account you can link")
            )
            continue
        if account.region is not call.region:
            failed.append(
                _failure(
                    item,
                    f"account {item['id']} is in {account.region.value}: call that region's host",
                )
            )
            continue
        if len(item.get("roles", [])) > 1:
            failed.append(_failure(item, "only one role at a time is supported"))
            continue
        present = any(x.account_id == account.account_id for x in links)
        if link and not present:
            roles = item.get("roles") or [None]
            links.append(Link(account.account_id, roles[0]))
        elif not link and present:
            links = [x for x in links if x.account_id != account.account_id]
        succeeded.append(item)
    world.managers[manager_id] = replace(manager, links=tuple(links))
    body = {"succeedAccounts": succeeded, "failedAccounts": failed}
    return json_response(207, body, c.MT_LINK_RESPONSE)


def associate(call: Call) -> Response:
    return _update_links(call, link=True)


def disassociate(call: Call) -> Response:
    return _update_links(call, link=False)


ROUTES = (
    Route(
        "getManagerAccountsForUser",
        "GET",
        ("managerAccounts",),
        "ma",
        None,
        c.MT_GET_MANAGER_ACCOUNTS,
        c.MT_JSON,
        list_managers,
    ),
    Route(
        "createManagerAccount",
        "POST",
        ("managerAccounts",),
        "ma",
        c.MT_CREATE_MANAGER_ACCOUNT,
        c.MT_MANAGER_ACCOUNT,
        c.MT_MANAGER_ACCOUNT,
        create_manager,
        write=True,
        body_required=True,
    ),
    Route(
        "LinkAdvertisingAccountsToManagerAccountPublicAPI",
        "POST",
        ("managerAccounts", "{managerAccountId}", "associate"),
        "ma",
        c.MT_LINK_REQUEST,
        c.MT_LINK_RESPONSE,
        c.MT_LINK_RESPONSE,
        associate,
        write=True,
        body_required=True,
    ),
    Route(
        "UnlinkAdvertisingAccountsToManagerAccountPublicAPI",
        "POST",
        ("managerAccounts", "{managerAccountId}", "disassociate"),
        "ma",
        c.MT_LINK_REQUEST,
        c.MT_LINK_RESPONSE,
        c.MT_LINK_RESPONSE,
        disassociate,
        write=True,
        body_required=True,
    ),
)
