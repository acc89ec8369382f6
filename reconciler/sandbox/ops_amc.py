"""AMC accounts (reference §3.1), user invitations (§4, S-INV) and user permissions (§5,
S-UPM), all keyed by `Amazon-Ads-AccountId` except `GET /amc/accounts`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TypeVar

from reconciler.sandbox import constants as c
from reconciler.sandbox.app import ApiFailure, Call, Response, Route, json_response
from reconciler.sandbox.state import AmcAccount, Invitation, World

T = TypeVar("T")


# -- pagination ---------------------------------------------------------------------------
def _page(
    items: Sequence[T], *, world: World, kind: str, scope: str, token: Any, max_results: Any
) -> tuple[Sequence[T], str | None]:
    """One page and the nextToken (None on the last page). Tokens are opaque base64 and
    bound to the list they came from; a foreign or corrupt token is a 400."""
    cap = world.page_sizes[kind]
    size = cap
    if max_results is not None:
        if isinstance(max_results, bool) or not isinstance(max_results, int | float):
            raise ApiFailure(400, "maxResults must be a number")
        if not 1 <= max_results <= c.PAGE_SIZE_CAPS[kind]:
            raise ApiFailure(400, f"maxResults must be between 1 and {c.PAGE_SIZE_CAPS[kind]}")
        size = min(int(max_results), cap)
    offset = 0
    if token is not None:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
            if decoded["s"] != f"{kind}:{scope}":
                raise ValueError("token from another list")
            offset = int(decoded["o"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ApiFailure(400, "nextToken is not valid for this list") from exc
    page = items[offset : offset + size]
    if offset + size >= len(items):
        return page, None
    raw = json.dumps({"s": f"{kind}:{scope}", "o": offset + size}).encode()
    return page, base64.urlsafe_b64encode(raw).decode()


def _object(call: Call) -> dict[str, Any]:
    if call.body is None:
        return {}
    if not isinstance(call.body, dict):
        raise ApiFailure(400, "the body must be a JSON object")
    return call.body


def _account(call: Call) -> AmcAccount:
    assert call.account_id is not None  # Route.account_scoped guarantees it
    return call.world.amc[call.account_id]


# -- GET /amc/accounts --------------------------------------------------------------------
def list_amc_accounts(call: Call) -> Response:
    """AmcpLinkListAmcAccounts: every AMC account the caller can administer."""
    token = dict(call.request.query).get("nextToken")
    accounts = list(call.world.amc.values())
    page, next_token = _page(
        accounts, world=call.world, kind="amc_accounts", scope="", token=token, max_results=None
    )
    body: dict[str, Any] = {
        "amcAccounts": [
            {"accountId": a.account_id, "accountName": a.name, "marketplaceId": a.marketplace_id}
            for a in page
        ]
    }
    if next_token is not None:  # "Null if all results have been returned": key left out
        body["nextToken"] = next_token
    return json_response(200, body, c.MT_AMC)


# -- invitations --------------------------------------------------------------------------
def invitation_json(world: World, account: AmcAccount, inv: Invitation) -> dict[str, Any]:
    return {
        "invitationId": inv.invitation_id,
        "state": world.invitation_state(inv),
        "targetId": account.account_id,
        "createdBy": inv.created_by,
        "createdAt": round(inv.created_at * c.INVITATION_TIME_SCALE),
        "expiration": round(inv.expires_at * c.INVITATION_TIME_SCALE),
        "permissionSet": {"type": "ROLE", "role": {"name": inv.role}},
        "user": {"emailAddress": inv.email, "userName": inv.name},
    }


def _open(world: World, inv: Invitation) -> bool:
    return world.invitation_state(inv) in (c.STATE_PENDING, c.STATE_EXPIRED)


def _inv_error(code: str, message: str, identifier: str) -> dict[str, str]:
    return {
        "errorCode": code,
        "errorMessage": message,
        "errorDetail": message,
        "identifier": identifier,
    }


def _invitation_problem(
    world: World, account: AmcAccount, item: Any, emails: set[str]
) -> dict[str, str] | None:
    if not isinstance(item, dict) or not isinstance(item.get("user"), dict):
        raise ApiFailure(400, "each userInvitationRequests item needs `user` and `permissionSet`")
    user = item["user"]
    email, name = user.get("emailAddress"), user.get("userName")
    if not isinstance(email, str) or not isinstance(name, str):
        raise ApiFailure(400, "user.emailAddress and user.userName are required strings")
    if "@" not in email.strip("@"):
        return _inv_error("INVALID_EMAIL", f"{email!r} is not an email address", email)
    perm = item.get("permissionSet")
    if not isinstance(perm, dict) or perm.get("type") != "ROLE":
        # S-INV PermissionSet: "Marketing Cloud Accounts do not support custom permissions".
        return _inv_error(
            "INVALID_PERMISSION_SET", "AMC accounts take permissionSet.type ROLE", email
        )
    role = (perm.get("role") or {}).get("name") if isinstance(perm.get("role"), dict) else None
    if role not in c.AMC_INVITATION_ROLES:
        return _inv_error(
            "INVALID_PERMISSION_SET",
            f"role {role!r}: AMC invitations take {' or '.join(c.AMC_INVITATION_ROLES)}",
            email,
        )
    if item.get("countries"):
        return _inv_error("INVALID_COUNTRIES", "countries apply to global accounts only", email)
    key = email.lower()
    # Decision ([UNK]): Amazon refuses a second invitation for an email with an open one (a
    # pending or expired invitation: resend that instead) or one that is already a user.
    if key in emails or any(
        i.email.lower() == key and _open(world, i) for i in account.invitations
    ):
        return _inv_error(
            "DUPLICATE_INVITATION",
            f"{email} already has an open invitation to {account.account_id}; RESENT it instead",
            email,
        )
    if any(u.email.lower() == key for u in account.users):
        return _inv_error(
            "USER_ALREADY_EXISTS", f"{email} is already a user of {account.account_id}", email
        )
    return None


def create_invitations(call: Call) -> Response:
    """CreateUserInvitations: 200 with `successes` and `errors` (a partial-success batch)."""
    world, account = call.world, _account(call)
    items = _object(call).get("userInvitationRequests")
    if not isinstance(items, list) or not 1 <= len(items) <= c.MAX_INVITATIONS_PER_CALL:
        raise ApiFailure(
            400, f"userInvitationRequests must list 1 to {c.MAX_INVITATIONS_PER_CALL} invitations"
        )
    successes: list[Any] = []
    errors: list[Any] = []
    emails: set[str] = set()
    invitations = list(account.invitations)
    now = world.now()
    for item in items:
        problem = _invitation_problem(
            world, replace(account, invitations=tuple(invitations)), item, emails
        )
        if problem is not None:
            errors.append(problem)
            continue
        user = item["user"]
        emails.add(user["emailAddress"].lower())
        inv = Invitation(
            invitation_id=f"sandbox-invitation-{world.next_id():06d}",
            email=user["emailAddress"],
            name=user["userName"],
            role=item["permissionSet"]["role"]["name"],
            state=c.STATE_PENDING,
            created_at=now,
            expires_at=now + c.INVITATION_LIFETIME_S,
        )
        invitations.append(inv)
        successes.append(invitation_json(world, account, inv))
    world.amc[account.account_id] = replace(account, invitations=tuple(invitations))
    return json_response(200, {"successes": successes, "errors": errors}, c.MT_CREATE_INVITATIONS)


def update_invitations(call: Call) -> Response:
    """UpdateUserInvitations: REVOKED removes an open invitation from the list; RESENT renews
    its 14-day window (release notes) and makes an expired one pending again."""
    world, account = call.world, _account(call)
    updates = _object(call).get("updates")
    if not isinstance(updates, list) or not 1 <= len(updates) <= c.MAX_INVITATIONS_PER_CALL:
        raise ApiFailure(400, f"updates must list 1 to {c.MAX_INVITATIONS_PER_CALL} updates")
    successes: list[Any] = []
    errors: list[Any] = []
    invitations = {i.invitation_id: i for i in account.invitations}
    now = world.now()
    for item in updates:
        if not isinstance(item, dict) or not isinstance(item.get("invitationId"), str):
            raise ApiFailure(400, "each update needs a string invitationId and a state")
        inv_id, state = item["invitationId"], item.get("state")
        inv = invitations.get(inv_id)
        if state not in (c.STATE_REVOKED, c.STATE_RESENT):
            errors.append(
                _inv_error("INVALID_STATE", f"state {state!r}: use REVOKED or RESENT", inv_id)
            )
        elif inv is None or not _open(world, inv):
            errors.append(
                _inv_error(
                    "NOT_FOUND", f"no open invitation {inv_id} on {account.account_id}", inv_id
                )
            )
        else:
            if state == c.STATE_REVOKED:
                invitations[inv_id] = replace(inv, state=c.STATE_REVOKED)
            else:
                invitations[inv_id] = replace(inv, expires_at=now + c.INVITATION_LIFETIME_S)
            successes.append({"invitationId": inv_id, "state": state})
    world.amc[account.account_id] = replace(account, invitations=tuple(invitations.values()))
    body: dict[str, Any] = {"errors": errors}
    if successes:  # S-INV: successes has minItems 1, so an all-failed batch leaves it out
        body["successes"] = successes
    return json_response(200, body, c.MT_UPDATE_INVITATIONS)


def list_invitations(call: Call) -> Response:
    """ListUserInvitations: open invitations (PENDING, and EXPIRED ones not yet accepted)."""
    world, account = call.world, _account(call)
    body = _object(call)
    open_ = sorted(
        (i for i in account.invitations if _open(world, i)),
        key=lambda i: (i.created_at, i.invitation_id),
    )
    page, token = _page(
        open_,
        world=world,
        kind="invitations",
        scope=account.account_id,
        token=body.get("nextToken"),
        max_results=body.get("maxResults"),
    )
    out: dict[str, Any] = {"invitations": [invitation_json(world, account, i) for i in page]}
    if token is not None:
        out["nextToken"] = token
    return json_response(200, out, c.MT_LIST_INVITATIONS)


# -- users and permissions ----------------------------------------------------------------
def mask_email(email: str) -> str:
    """Release notes: /users/list masks emails. `alice@example.com` -> `a***@example.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def list_users(call: Call) -> Response:
    """ListUsers: active users only; invitations are not users ([INF] §5)."""
    world, account = call.world, _account(call)
    body = _object(call)
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
    page, token = _page(
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
    world, account = call.world, _account(call)
    body = _object(call)
    user_id = body.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise ApiFailure(400, "userId is required")
    user = account.user(user_id)
    if user is None:
        raise ApiFailure(404, f"no user {user_id} on {account.account_id}", "NOT_FOUND")
    page, token = _page(
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
    world, account = call.world, _account(call)
    items = _object(call).get("userPermissions")
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
    world, account = call.world, _account(call)
    items = _object(call).get("users")
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
        "AmcpLinkListAmcAccounts",
        "GET",
        ("amc", "accounts"),
        "amc",
        None,
        c.MT_AMC,
        c.MT_AMC,
        list_amc_accounts,
    ),
    Route(
        "CreateUserInvitations",
        "POST",
        ("user-invitations",),
        "inv",
        c.MT_CREATE_INVITATIONS,
        c.MT_CREATE_INVITATIONS,
        c.MT_JSON,
        create_invitations,
        write=True,
        account_scoped=True,
        body_required=True,
    ),
    Route(
        "UpdateUserInvitations",
        "PUT",
        ("user-invitations",),
        "inv",
        c.MT_UPDATE_INVITATIONS,
        c.MT_UPDATE_INVITATIONS,
        c.MT_JSON,
        update_invitations,
        write=True,
        account_scoped=True,
        body_required=True,
    ),
    Route(
        "ListUserInvitations",
        "POST",
        ("user-invitations", "list"),
        "inv",
        c.MT_LIST_INVITATIONS,
        c.MT_LIST_INVITATIONS,
        c.MT_JSON,
        list_invitations,
        account_scoped=True,
    ),
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
