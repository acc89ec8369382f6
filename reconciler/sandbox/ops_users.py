"""Users and their roles on an AMC account: the User Permissions API (reference §5, S-UPM),
keyed by `Amazon-Ads-AccountId`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.sandbox import constants as c
from reconciler.sandbox.paging import amc_account, body_object, paginate, writable_amc_account
from reconciler.sandbox.state import AmcAccount
from reconciler.sandbox.wire import ApiFailure, Call, Response, Route, json_response


# -- users and permissions ----------------------------------------------------------------
def mask_email(email: str) -> str:
    """Release notes: /users/list masks emails. `alice@example.com` -> `a***@example.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def list_users(call: Call) -> Response:
    """ListUsers: active users only; invitations are not users ([INF] §5)."""
    world, account = call.world, amc_account(call)
    body = body_object(call)
    scope = body.get("accessScopeFilter")
    if scope is not None and (
        not isinstance(scope, dict)
        or not isinstance(scope.get("include"), list)
        or len(scope["include"]) != 1
        or scope["include"][0] not in ("ALL", "DIRECT", "EFFECTIVE", "INDIRECT")
    ):
        raise ApiFailure(
            400,
            "accessScopeFilter.include must hold exactly one of ALL, DIRECT, EFFECTIVE, INDIRECT",
        )
    users = sorted(account.users, key=lambda u: u.user_id)
    page, token = paginate(
        users,
        world=world,
        kind="users",
        scope=account.account_id,
        token=body.get("nextToken"),
        max_results=body.get("maxResults"),
    )
    out: dict[str, Any] = {
        "users": [{"userId": u.user_id, "emailAddress": mask_email(u.email)} for u in page]
    }
    if token is not None:
        out["nextToken"] = token
    return json_response(200, out, c.MT_LIST_USERS)


def query_roles(call: Call) -> Response:
    """QueryUserRoles: an AMC user holds one role, as S-UPM spells it (ADMIN/VIEWER)."""
    world, account = call.world, amc_account(call)
    body = body_object(call)
    user_id = body.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise ApiFailure(400, "userId is required")
    user = account.user(user_id)
    if user is None:
        raise ApiFailure(404, f"no user {user_id} on {account.account_id}", "NOT_FOUND")
    page, token = paginate(
        [user],
        world=world,
        kind="roles",
        scope=f"{account.account_id}:{user_id}",
        token=body.get("nextToken"),
        max_results=body.get("maxResults"),
    )
    out: dict[str, Any] = {"roles": [{"role": u.role, "type": "ROLE"} for u in page]}
    if token is not None:
        out["nextToken"] = token
    return json_response(200, out, c.MT_QUERY_ROLES)


def _admins(account: AmcAccount) -> set[str]:
    return {u.user_id for u in account.users if u.role == "ADMIN"}


def update_permissions(call: Call) -> Response:
    """UpdateUserPermissions: set a user's role. Decision ([UNK] §5): the last ADMIN of an
    account cannot be demoted (an `errors` entry), as the console keeps one admin."""
    world, account = call.world, writable_amc_account(call)
    items = body_object(call).get("userPermissions")
    if not isinstance(items, list) or not items:
        raise ApiFailure(400, "userPermissions must list at least one update")
    successes: list[Any] = []
    errors: list[Any] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("userId"), str):
            raise ApiFailure(400, "each userPermissions item needs a string userId")
        user_id = item["userId"]
        perm = item.get("permissionSet")
        user = account.user(user_id)
        role = perm.get("role") if isinstance(perm, dict) else None
        if not isinstance(perm, dict) or perm.get("type") not in ("ROLE", "CUSTOM_PERMISSION_SET"):
            raise ApiFailure(400, "permissionSet.type is required: ROLE")
        if user is None:
            errors.append({"userId": user_id, "code": "NOT_FOUND", "message": f"no user {user_id}"})
        elif perm["type"] != "ROLE" or role not in c.AMC_USER_ROLES:
            errors.append(
                {
                    "userId": user_id,
                    "code": "INVALID_PERMISSION_SET",
                    "message": f"AMC accounts take ROLE {' or '.join(c.AMC_USER_ROLES)}",
                }
            )
        elif role != "ADMIN" and _admins(account) == {user_id}:
            errors.append(
                {
                    "userId": user_id,
                    "code": "LAST_ADMIN",
                    "message": "the account's last ADMIN cannot be demoted",
                }
            )
        else:
            users = tuple(
                replace(u, role=role) if u.user_id == user_id else u for u in account.users
            )
            account = replace(account, users=users)
            successes.append({"userId": user_id})
    world.amc[account.account_id] = account
    return json_response(200, {"successes": successes, "errors": errors}, c.MT_UPDATE_PERMISSIONS)


def delete_permissions(call: Call) -> Response:
    """DeleteUserPermissions: remove users (1..200). Unknown users and the last ADMIN get
    `errors` entries; the rest are removed."""
    world, account = call.world, writable_amc_account(call)
    items = body_object(call).get("users")
    if not isinstance(items, list) or not 1 <= len(items) <= c.MAX_DELETES_PER_CALL:
        raise ApiFailure(400, f"users must list 1 to {c.MAX_DELETES_PER_CALL} users")
    successes: list[Any] = []
    errors: list[Any] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("userId"), str):
            raise ApiFailure(400, "each users item needs a string userId")
        user_id = item["userId"]
        if account.user(user_id) is None:
            errors.append({"userId": user_id, "code": "NOT_FOUND", "message": f"no user {user_id}"})
        elif _admins(account) == {user_id}:
            errors.append(
                {
                    "userId": user_id,
                    "code": "USER_CANNOT_BE_REMOVED",
                    "message": "the account's last ADMIN cannot be removed",
                }
            )
        else:
            account = replace(
                account, users=tuple(u for u in account.users if u.user_id != user_id)
            )
            successes.append({"userId": user_id})
    world.amc[account.account_id] = account
    return json_response(200, {"successes": successes, "errors": errors}, c.MT_DELETE_PERMISSIONS)


ROUTES = (
    Route(
        "ListUsers",
        "POST",
        ("users", "list"),
        "upm",
        c.MT_LIST_USERS,
        c.MT_LIST_USERS,
        c.MT_JSON,
        list_users,
        account_scoped=True,
    ),
    Route(
        "QueryUserRoles",
        "POST",
        ("userRoles", "list"),
        "upm",
        c.MT_QUERY_ROLES,
        c.MT_QUERY_ROLES,
        c.MT_JSON,
        query_roles,
        account_scoped=True,
        body_required=True,
    ),
    Route(
        "UpdateUserPermissions",
        "PUT",
        ("userPermissions",),
        "upm",
        c.MT_UPDATE_PERMISSIONS,
        c.MT_UPDATE_PERMISSIONS,
        c.MT_JSON,
        update_permissions,
        write=True,
        account_scoped=True,
        body_required=True,
    ),
    Route(
        "DeleteUserPermissions",
        "POST",
        ("userPermissions", "delete"),
        "upm",
        c.MT_DELETE_PERMISSIONS,
        c.MT_DELETE_PERMISSIONS,
        c.MT_JSON,
        delete_permissions,
        write=True,
        account_scoped=True,
        body_required=True,
    ),
)
