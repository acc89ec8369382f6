"""Users of an account of every kind through the User Permissions API: invite, accept, list
(masked), query roles, PUT a role and a custom set (with countries), delete; the per-item
errors, and the account never left without an admin."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.model import ScopeKind
from reconciler.sandbox import World
from reconciler.sandbox import constants as c
from tests.sandbox.helpers import KINDS_SEED, MIXED, OWNER, SCOPES, people_call


@pytest.fixture
def sandbox_world() -> World:
    return World.from_seed(KINDS_SEED)


class People:
    """The seven operations against one account, answering parsed JSON."""

    def __init__(self, http: httpx.Client, headers: dict[str, str], kind: ScopeKind) -> None:
        self.http, self.headers, self.scope = http, headers, SCOPES[kind]

    def _call(self, method: str, path: str, media_type: str, body: Any) -> Any:
        response = people_call(self.http, self.headers, self.scope, method, path, media_type, body)
        assert response.status_code == 200, response.text
        return response.json()

    def invite(self, email: str, permission_set: dict[str, Any]) -> str:
        item = {"user": {"emailAddress": email, "userName": "Ana"}, "permissionSet": permission_set}
        body = {"userInvitationRequests": [item]}
        (created,) = self._call("POST", "/user-invitations", c.MT_CREATE_INVITATIONS, body)[
            "successes"
        ]
        invitation_id: str = created["invitationId"]
        return invitation_id

    def users(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = self._call("POST", "/users/list", c.MT_LIST_USERS, {})[
            "users"
        ]
        return users

    def roles(self, user_id: str) -> list[dict[str, Any]]:
        body = {"userId": user_id}
        roles: list[dict[str, Any]] = self._call("POST", "/userRoles/list", c.MT_QUERY_ROLES, body)[
            "roles"
        ]
        return roles

    def put(self, *items: dict[str, Any]) -> dict[str, Any]:
        body = {"userPermissions": list(items)}
        result: dict[str, Any] = self._call(
            "PUT", "/userPermissions", c.MT_UPDATE_PERMISSIONS, body
        )
        return result

    def delete(self, *user_ids: str) -> dict[str, Any]:
        body = {"users": [{"userId": u} for u in user_ids]}
        result: dict[str, Any] = self._call(
            "POST", "/userPermissions/delete", c.MT_DELETE_PERMISSIONS, body
        )
        return result


INVITE_ROLE = {
    ScopeKind.MANAGER: "VIEWER",
    ScopeKind.SPONSORED_ADS: "VIEWER",
    ScopeKind.DSP: "VIEWER",
    ScopeKind.AMC: "viewer",
}
# A custom set each kind takes, with the countries it may name (none for manager and AMC:
# they take no custom set at all).
CUSTOM: dict[ScopeKind, tuple[list[str], list[str]]] = {
    ScopeKind.SPONSORED_ADS: (["reports_view", "campaign_edit"], ["US", "CA"]),
    ScopeKind.DSP: (["reports_edit", "creatives_edit"], []),
}


@pytest.mark.parametrize("kind", list(ScopeKind))
def test_a_person_goes_through_every_operation_on_every_kind(
    sandbox_http: httpx.Client,
    sandbox_headers: dict[str, str],
    sandbox_world: World,
    kind: ScopeKind,
) -> None:
    people = People(sandbox_http, sandbox_headers, kind)
    invitation = people.invite(
        "ana@acme.example", {"type": "ROLE", "role": {"name": INVITE_ROLE[kind]}}
    )
    ana = sandbox_world.accept_invitation(SCOPES[kind].key, invitation, kind)
    assert {"userId": ana, "emailAddress": "a***@acme.example"} in people.users()
    assert all(u["emailAddress"].lower().endswith("***@acme.example") for u in people.users())
    assert people.roles(ana) == [{"role": "VIEWER", "type": "ROLE"}]

    assert people.put({"userId": ana, "permissionSet": {"type": "ROLE", "role": "ADMIN"}}) == {
        "successes": [{"userId": ana}],
        "errors": [],
    }
    assert people.roles(ana) == [{"role": "ADMIN", "type": "ROLE"}]

    if kind in CUSTOM:
        names, countries = CUSTOM[kind]
        item: dict[str, Any] = {
            "userId": ana,
            "permissionSet": {
                "type": "CUSTOM_PERMISSION_SET",
                "customPermissionSet": [{"name": n} for n in names],
            },
        }
        if countries:
            item["countryCodes"] = countries
        assert people.put(item)["errors"] == []
        expected: dict[str, Any] = {"type": "CUSTOM_PERMISSION_SET", "permissions": sorted(names)}
        if countries:
            expected["countryCodes"] = sorted(countries)
        assert people.roles(ana) == [expected]
        listed = next(u for u in people.users() if u["userId"] == ana)
        assert listed.get("countryCodes", []) == sorted(countries)
        # And back to a role: the user holds exactly what the last item said.
        people.put({"userId": ana, "permissionSet": {"type": "ROLE", "role": "EDITOR"}})
        assert people.roles(ana) == [{"role": "EDITOR", "type": "ROLE"}]

    assert people.delete(ana) == {"successes": [{"userId": ana}], "errors": []}
    assert ana not in {u["userId"] for u in people.users()}


def test_a_user_of_a_sponsored_ads_account_holds_a_set_per_country(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    people = People(sandbox_http, sandbox_headers, ScopeKind.SPONSORED_ADS)
    assert people.roles(MIXED) == [
        {"role": "EDITOR", "type": "ROLE", "countryCodes": ["US"]},
        {
            "type": "CUSTOM_PERMISSION_SET",
            "permissions": ["campaign_view", "reports_view"],
            "countryCodes": ["CA"],
        },
    ]
    assert {"userId": MIXED, "emailAddress": "m***@acme.example", "countryCodes": ["CA", "US"]} in (
        people.users()
    )
    # One item moves the user to one role in new countries: the CA set is gone.
    people.put(
        {
            "userId": MIXED,
            "permissionSet": {"type": "ROLE", "role": "VIEWER"},
            "countryCodes": ["GB"],
        }
    )
    assert people.roles(MIXED) == [{"role": "VIEWER", "type": "ROLE", "countryCodes": ["GB"]}]


# (kind, permission set, countryCodes, code, message)
REFUSED = [
    (
        ScopeKind.MANAGER,
        {"type": "CUSTOM_PERMISSION_SET", "customPermissionSet": [{"name": "campaign_edit"}]},
        None,
        "INVALID_PERMISSION_SET",
        "a manager account does not support custom permissions: use type ROLE",
    ),
    (
        ScopeKind.AMC,
        {"type": "ROLE", "role": "EDITOR"},
        None,
        "INVALID_PERMISSION_SET",
        "AMC accounts take ROLE ADMIN or VIEWER",
    ),
    (
        ScopeKind.AMC,
        {"type": "CUSTOM_PERMISSION_SET", "customPermissionSet": [{"name": "campaign_edit"}]},
        None,
        "INVALID_PERMISSION_SET",
        "an AMC account does not support custom permissions: use type ROLE",
    ),
    (
        ScopeKind.DSP,
        {"type": "CUSTOM_PERMISSION_SET", "customPermissionSet": [{"name": "user_edit"}]},
        None,
        "INVALID_PERMISSION_SET",
        "unknown permission 'user_edit' for a DSP account; it takes campaign_edit, "
        "creatives_edit, reports_edit, reports_limited",
    ),
    (
        ScopeKind.DSP,
        {"type": "ROLE", "role": "VIEWER"},
        ["US"],
        "INVALID_COUNTRIES",
        "countries apply to global accounts only",
    ),
]


@pytest.mark.parametrize(("kind", "permission_set", "countries", "code", "message"), REFUSED)
def test_what_a_kind_does_not_take_is_a_per_item_error(
    sandbox_http: httpx.Client,
    sandbox_headers: dict[str, str],
    sandbox_world: World,
    kind: ScopeKind,
    permission_set: dict[str, Any],
    countries: list[str] | None,
    code: str,
    message: str,
) -> None:
    before = sandbox_world.snapshot()
    item: dict[str, Any] = {"userId": OWNER, "permissionSet": permission_set}
    if countries is not None:
        item["countryCodes"] = countries
    body = People(sandbox_http, sandbox_headers, kind).put(item)
    assert body == {
        "successes": [],
        "errors": [{"userId": OWNER, "code": code, "message": message}],
    }
    assert sandbox_world.snapshot() == before


@pytest.mark.parametrize("kind", list(ScopeKind))
def test_no_kind_of_account_is_left_without_an_admin(
    sandbox_http: httpx.Client,
    sandbox_headers: dict[str, str],
    sandbox_world: World,
    kind: ScopeKind,
) -> None:
    people = People(sandbox_http, sandbox_headers, kind)
    demoted = people.put({"userId": OWNER, "permissionSet": {"type": "ROLE", "role": "VIEWER"}})
    removed = people.delete(OWNER)
    assert [e["code"] for e in demoted["errors"] + removed["errors"]] == [
        "LAST_ADMIN",
        "USER_CANNOT_BE_REMOVED",
    ]
    assert sandbox_world.account(SCOPES[kind].key, kind).user(OWNER) is not None


def test_users_and_roles_filter_by_country(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    scope = SCOPES[ScopeKind.SPONSORED_ADS]
    body = {"countryCodesFilter": {"include": ["CA"]}, "userId": MIXED}
    roles = people_call(
        sandbox_http, sandbox_headers, scope, "POST", "/userRoles/list", c.MT_QUERY_ROLES, body
    ).json()["roles"]
    assert [r["countryCodes"] for r in roles] == [["CA"]]
    users = people_call(
        sandbox_http,
        sandbox_headers,
        scope,
        "POST",
        "/users/list",
        c.MT_LIST_USERS,
        {"countryCodesFilter": {"include": ["GB"]}},
    ).json()["users"]
    # The owner holds the whole account (no countries): in every country, GB included.
    assert [u["userId"] for u in users] == [OWNER]
