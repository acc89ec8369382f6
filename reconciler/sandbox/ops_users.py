"""Users and their permission sets on an account of any kind: the User Permissions API
(reference §5, S-UPM), the account named by the header of its kind (§4.1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.model import ScopeKind
from reconciler.sandbox import constants as c
from reconciler.sandbox.grants import (
    Problem,
    countries_problem,
    normal,
    permissions_problem,
    role_problem,
    upper_roles,
)
from reconciler.sandbox.paging import body_object, paginate, target_account, writable_account
from reconciler.sandbox.state import Account, AccountUser, Grant
from reconciler.sandbox.wire import ApiFailure, Call, Response, Route, json_response


# -- users and permissions ----------------------------------------------------------------
def mask_email(email: str) -> str:
    """Release notes: /users/list masks emails. `alice@example.com` -> `a***@example.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _country_filter(body: dict[str, Any]) -> frozenset[str] | None:
    """`countryCodesFilter.include` (None: no filter; an empty list filters nothing)."""
    wanted = body.get("countryCodesFilter")
    include = wanted.get("include") if isinstance(wanted, dict) else None
    return frozenset(include) if include else None


def _in(grant: Grant, countries: frozenset[str] | None) -> bool:
    """[UNK] how a country filter treats a grant of the whole account. Decision: it is in
    every country."""
    return countries is None or not grant.countries or bool(countries & set(grant.countries))


def list_users(call: Call) -> Response:
    """ListUsers: active users only; invitations are not users ([INF] §5). Addresses are
    masked on every kind (release notes); `countryCodes` says where a user of a
    sponsored-ads account holds access."""
    world, account = call.world, target_account(call)
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
    countries = _country_filter(body)
    users = sorted(
        (u for u in account.users if any(_in(g, countries) for g in u.grants)),
        key=lambda u: u.user_id,
    )
    page, token = paginate(
        users,
        world=world,
        kind="users",
        scope=account.account_id,
        token=body.get("nextToken"),
        max_results=body.get("maxResults"),
    )
    out: dict[str, Any] = {"users": [_user_json(u) for u in page]}
    if token is not None:
        out["nextToken"] = token
    return json_response(200, out, c.MT_LIST_USERS)


def _user_json(user: AccountUser) -> dict[str, Any]:
    out: dict[str, Any] = {"userId": user.user_id, "emailAddress": mask_email(user.email)}
    countries = sorted({code for g in user.grants for code in g.countries})
    if countries:
        out["countryCodes"] = countries
    return out


def role_json(grant: Grant) -> dict[str, Any]:
    """S-UPM `RoleForCountries`. A custom set has no `role` (the spec's Role is an enum of
    ADMIN, EDITOR, VIEWER) and names its permissions in `permissions`, as the newer S-UPM
    reads a custom set back (reference §5.1)."""
    if grant.role is not None:
        out: dict[str, Any] = {"role": grant.role, "type": "ROLE"}
    else:
        out = {"type": "CUSTOM_PERMISSION_SET", "permissions": list(grant.permissions)}
    if grant.countries:
        out["countryCodes"] = list(grant.countries)
    return out


def query_roles(call: Call) -> Response:
    """QueryUserRoles: the user's role or custom set per country, as S-UPM spells roles."""
    world, account = call.world, target_account(call)
    body = body_object(call)
    user_id = body.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise ApiFailure(400, "userId is required")
    user = account.user(user_id)
    if user is None:
        raise ApiFailure(404, f"no user {user_id} on {account.account_id}", "NOT_FOUND")
    countries = _country_filter(body)
    page, token = paginate(
        [g for g in user.grants if _in(g, countries)],
        world=world,
        kind="roles",
        scope=f"{account.account_id}:{user_id}",
        token=body.get("nextToken"),
        max_results=body.get("maxResults"),
    )
    out: dict[str, Any] = {"roles": [role_json(g) for g in page]}
    if token is not None:
        out["nextToken"] = token
    return json_response(200, out, c.MT_QUERY_ROLES)


def _admins(account: Account) -> set[str]:
    return {u.user_id for u in account.users if u.admin}


def _error(user_id: str, code: str, message: str) -> dict[str, str]:
    return {"userId": user_id, "code": code, "message": message}


def _requested_grant(kind: ScopeKind, item: dict[str, Any]) -> Grant | Problem:
    """The grant a `UserPermission` item asks for, or the per-item problem with it."""
    perm = item["permissionSet"]
    countries = tuple(sorted(set(item.get("countryCodes") or ())))
    if perm["type"] == "ROLE":
        role = perm.get("role")
        problem = role_problem(kind, role, spelled=upper_roles(kind))
        grant = Grant(str(role), (), countries)
    else:
        names = [
            p.get("name") if isinstance(p, dict) else None
            for p in perm.get("customPermissionSet") or []
        ]
        problem = permissions_problem(kind, names)
        grant = Grant(None, normal(str(n) for n in names), countries)
    problem = problem or countries_problem(kind, countries)
    return grant if problem is None else problem


def update_permissions(call: Call) -> Response:
    """UpdateUserPermissions: set a user's role or custom set. Decision ([UNK] §5): the user
    then holds exactly this set, in the item's `countryCodes` (sponsored-ads; none: the whole
    account), so one item changes a role, a set or the countries. The last ADMIN of an account
    cannot be demoted (an `errors` entry), as the console keeps one admin."""
    world, account = call.world, writable_account(call)
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
        if not isinstance(perm, dict) or perm.get("type") not in ("ROLE", "CUSTOM_PERMISSION_SET"):
            raise ApiFailure(400, "permissionSet.type is required: ROLE")
        wanted = _requested_grant(account.kind, item)
        if user is None:
            errors.append(_error(user_id, "NOT_FOUND", f"no user {user_id}"))
        elif isinstance(wanted, Problem):
            errors.append(_error(user_id, wanted.code, wanted.message))
        elif wanted.role != "ADMIN" and _admins(account) == {user_id}:
            errors.append(
                _error(user_id, "LAST_ADMIN", "the account's last ADMIN cannot be demoted")
            )
        else:
            users = tuple(
                u.holding((wanted,)) if u.user_id == user_id else u for u in account.users
            )
            account = replace(account, users=users)
            successes.append({"userId": user_id})
    world.store(account)
    return json_response(200, {"successes": successes, "errors": errors}, c.MT_UPDATE_PERMISSIONS)


def delete_permissions(call: Call) -> Response:
    """DeleteUserPermissions: remove users (1..200) from the account, in every country.
    Unknown users and the last ADMIN get `errors` entries; the rest are removed."""
    world, account = call.world, writable_account(call)
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
            errors.append(_error(user_id, "NOT_FOUND", f"no user {user_id}"))
        elif _admins(account) == {user_id}:
            errors.append(
                _error(
                    user_id, "USER_CANNOT_BE_REMOVED", "the account's last ADMIN cannot be removed"
                )
            )
        else:
            account = replace(
                account, users=tuple(u for u in account.users if u.user_id != user_id)
            )
            successes.append({"userId": user_id})
    world.store(account)
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
