"""User invitations (reference §4, S-INV) on an account of any kind, named by the header of
its kind (§4.1): each invitation carries a permission set (a role, or a custom set on kinds
that have one) and, on sponsored-ads accounts, countries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.model import ScopeKind
from reconciler.sandbox import constants as c
from reconciler.sandbox.grants import (
    INVALID_PERMISSION_SET,
    countries_problem,
    invitation_roles,
    normal,
    permissions_problem,
    role_problem,
)
from reconciler.sandbox.paging import body_object, paginate, target_account, writable_account
from reconciler.sandbox.state import Account, Invitation, World
from reconciler.sandbox.wire import ApiFailure, Call, Response, Route, json_response


def permission_set_json(inv: Invitation) -> dict[str, Any]:
    """S-INV `PermissionSet` as the invitation was sent."""
    if inv.permissions:
        return {
            "type": "CUSTOM_PERMISSION_SET",
            "customPermissionSet": [{"name": name} for name in inv.permissions],
        }
    return {"type": "ROLE", "role": {"name": inv.role}}


def invitation_json(world: World, account: Account, inv: Invitation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "invitationId": inv.invitation_id,
        "state": world.invitation_state(inv),
        "targetId": account.account_id,
        "createdBy": inv.created_by,
        "createdAt": round(inv.created_at * c.INVITATION_TIME_SCALE),
        "expiration": round(inv.expires_at * c.INVITATION_TIME_SCALE),
        "permissionSet": permission_set_json(inv),
        "user": {"emailAddress": inv.email, "userName": inv.name},
    }
    if inv.countries:  # S-INV: countries has minItems 1, so none leaves the key out
        out["countries"] = [{"countryCode": code} for code in inv.countries]
    return out


def _open(world: World, inv: Invitation) -> bool:
    return world.invitation_state(inv) in (c.STATE_PENDING, c.STATE_EXPIRED)


def _inv_error(code: str, message: str, identifier: str) -> dict[str, str]:
    return {
        "errorCode": code,
        "errorMessage": message,
        "errorDetail": message,
        "identifier": identifier,
    }


def _requested(item: dict[str, Any]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(role as sent or "", custom permission names, countries) of a checked request item."""
    perm = item["permissionSet"]
    countries = tuple(sorted({str(x.get("countryCode")) for x in item.get("countries") or []}))
    if perm["type"] == "ROLE":
        return perm["role"]["name"], (), countries
    return "", normal(str(p.get("name")) for p in perm["customPermissionSet"]), countries


def _permission_problem(kind: ScopeKind, item: dict[str, Any]) -> tuple[str, str] | None:
    perm = item.get("permissionSet")
    kind_type = perm.get("type") if isinstance(perm, dict) else None
    if kind is ScopeKind.AMC and (not isinstance(perm, dict) or kind_type != "ROLE"):
        return INVALID_PERMISSION_SET, "AMC accounts take permissionSet.type ROLE"  # as before
    if not isinstance(perm, dict) or kind_type not in ("ROLE", "CUSTOM_PERMISSION_SET"):
        return INVALID_PERMISSION_SET, "permissionSet.type is ROLE or CUSTOM_PERMISSION_SET"
    if kind_type == "ROLE":
        role = perm.get("role")
        name = role.get("name") if isinstance(role, dict) else None
        problem = role_problem(kind, name, spelled=invitation_roles(kind))
    else:
        names = perm.get("customPermissionSet") or []
        problem = permissions_problem(
            kind, [p.get("name") if isinstance(p, dict) else None for p in names]
        )
    countries = [
        x.get("countryCode") if isinstance(x, dict) else None for x in item.get("countries") or []
    ]
    problem = problem or countries_problem(kind, countries)
    return (problem.code, problem.message) if problem is not None else None


def _invitation_problem(
    world: World, account: Account, item: Any, emails: set[str]
) -> dict[str, str] | None:
    if not isinstance(item, dict) or not isinstance(item.get("user"), dict):
        raise ApiFailure(400, "each userInvitationRequests item needs `user` and `permissionSet`")
    user = item["user"]
    email, name = user.get("emailAddress"), user.get("userName")
    if not isinstance(email, str) or not isinstance(name, str):
        raise ApiFailure(400, "user.emailAddress and user.userName are required strings")
    if "@" not in email.strip("@"):
        return _inv_error("INVALID_EMAIL", f"{email!r} is not an email address", email)
    problem = _permission_problem(account.kind, item)
    if problem is not None:
        return _inv_error(*problem, email)
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
    world, account = call.world, writable_account(call)
    items = body_object(call).get("userInvitationRequests")
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
        role, permissions, countries = _requested(item)
        inv = Invitation(
            invitation_id=f"sandbox-invitation-{world.next_id():06d}",
            email=user["emailAddress"],
            name=user["userName"],
            role=role,
            state=c.STATE_PENDING,
            created_at=now,
            expires_at=now + c.INVITATION_LIFETIME_S,
            permissions=permissions,
            countries=countries,
        )
        invitations.append(inv)
        successes.append(invitation_json(world, account, inv))
    world.store(replace(account, invitations=tuple(invitations)))
    return json_response(200, {"successes": successes, "errors": errors}, c.MT_CREATE_INVITATIONS)


def update_invitations(call: Call) -> Response:
    """UpdateUserInvitations: REVOKED removes an open invitation from the list; RESENT renews
    its 14-day window (release notes) and makes an expired one pending again."""
    world, account = call.world, writable_account(call)
    updates = body_object(call).get("updates")
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
    world.store(replace(account, invitations=tuple(invitations.values())))
    body: dict[str, Any] = {"errors": errors}
    if successes:  # S-INV: successes has minItems 1, so an all-failed batch leaves it out
        body["successes"] = successes
    return json_response(200, body, c.MT_UPDATE_INVITATIONS)


def list_invitations(call: Call) -> Response:
    """ListUserInvitations: open invitations (PENDING, and EXPIRED ones not yet accepted)."""
    world, account = call.world, target_account(call)
    body = body_object(call)
    open_ = sorted(
        (i for i in account.invitations if _open(world, i)),
        key=lambda i: (i.created_at, i.invitation_id),
    )
    page, token = paginate(
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


ROUTES = (
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
)
