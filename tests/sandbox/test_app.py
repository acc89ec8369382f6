"""The sandbox's API behaviour through the in-process transport, asserted on its state."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import ScopeKind
from reconciler.sandbox import SANDBOX_CLIENT_ID, TOKEN_URL, SandboxTransport, World
from reconciler.sandbox import constants as c
from tests.sandbox.helpers import (
    ACME,
    AMC,
    DSP,
    EU,
    FE,
    KINDS_SEED,
    MIXED,
    NA,
    OWNER,
    SA,
    SCOPES,
    amc_headers,
    invite,
    link_call,
    linked_ids,
    people_call,
)


def test_token_refresh_grant_returns_an_lwa_shaped_body(sandbox_token: str) -> None:
    assert sandbox_token.startswith("Atza|sandbox-")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"refresh_token": "Atzr|nope"}, 400, "invalid_grant"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
    ],
)
def test_token_bad_credentials_get_oauth_errors(
    sandbox_http: httpx.Client, form: dict[str, str], status: int, error: str
) -> None:
    good = {
        "grant_type": "refresh_token",
        "refresh_token": c.SANDBOX_REFRESH_TOKEN,
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": c.SANDBOX_CLIENT_SECRET,
    }
    response = sandbox_http.post(TOKEN_URL, data={**good, **form})
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "error_description" in response.json()


def test_token_endpoint_answers_on_eu_and_fe_hosts_too(sandbox_http: httpx.Client) -> None:
    for host in ("api.amazon.co.uk", "api.amazon.co.jp"):
        response = sandbox_http.post(f"https://{host}/auth/o2/token", data={})
        assert response.status_code == 400


def test_unknown_host_raises_instead_of_passing(sandbox_http: httpx.Client) -> None:
    with pytest.raises(httpx.ConnectError, match="does not emulate"):
        sandbox_http.get("https://advertising-api-test.amazon.com/managerAccounts")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID},
        {"Authorization": "Bearer Atza|sandbox-unknown"},
        {"Authorization": "Bearer Atza|sandbox-unknown", "Amazon-Advertising-API-ClientId": "x"},
    ],
)
def test_api_calls_without_valid_auth_get_401(
    sandbox_http: httpx.Client, headers: dict[str, str]
) -> None:
    assert sandbox_http.get(f"{NA}/managerAccounts", headers=headers).status_code == 401


def test_client_id_must_match_the_token(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    headers = {**sandbox_headers, "Amazon-Advertising-API-ClientId": "amzn1.other"}
    assert sandbox_http.get(f"{NA}/amc/accounts", headers=headers).status_code == 401


def test_token_expires_after_an_hour_of_world_clock(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    assert sandbox_http.get(f"{NA}/amc/accounts", headers=sandbox_headers).status_code == 200
    sandbox_world.advance_clock(3600)
    response = sandbox_http.get(f"{NA}/amc/accounts", headers=sandbox_headers)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_links_are_visible_only_on_their_regions_host(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    response = link_call(
        sandbox_http,
        sandbox_headers,
        "associate",
        [{"id": "ENTITY2EURO0001", "type": "ACCOUNT_ID"}],
        host=EU,
    )
    assert response.status_code == 207
    assert response.json() == {
        "succeedAccounts": [{"id": "ENTITY2EURO0001", "type": "ACCOUNT_ID"}],
        "failedAccounts": [],
    }
    assert linked_ids(sandbox_http, sandbox_headers, EU) == ["ENTITY2EURO0001"]
    assert "ENTITY2EURO0001" not in linked_ids(sandbox_http, sandbox_headers, NA)
    assert linked_ids(sandbox_http, sandbox_headers, FE) == []


def test_associate_reports_unknown_and_wrong_region_accounts_as_failed(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    accounts = [
        {"id": "ENTITY1ACME0005", "type": "ACCOUNT_ID"},
        {"id": "ENTITY3ASIA0001", "type": "ACCOUNT_ID"},
        {"id": "ENTITYNOPE", "type": "ACCOUNT_ID"},
        {"id": "ENTITY1ACME0001", "type": "ACCOUNT_ID"},  # already linked: idempotent
    ]
    body = link_call(sandbox_http, sandbox_headers, "associate", accounts).json()
    assert [a["id"] for a in body["succeedAccounts"]] == ["ENTITY1ACME0005", "ENTITY1ACME0001"]
    assert [f["account"]["id"] for f in body["failedAccounts"]] == ["ENTITY3ASIA0001", "ENTITYNOPE"]
    assert {f["error"]["code"] for f in body["failedAccounts"]} == {"BAD_REQUEST"}
    links = [x.account_id for x in sandbox_world.managers[ACME].links]
    assert links.count("ENTITY1ACME0005") == 1 and links.count("ENTITY1ACME0001") == 1


def test_dsp_advertiser_is_addressable_by_its_dsp_id(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    accounts = [{"id": "5830000000001", "type": "DSP_ADVERTISER_ID", "roles": ["ENTITY_USER"]}]
    assert link_call(sandbox_http, sandbox_headers, "associate", accounts).status_code == 207
    assert "ENTITY1DSP00001" in linked_ids(sandbox_http, sandbox_headers)
    link_call(sandbox_http, sandbox_headers, "disassociate", accounts)
    assert all(x.account_id != "ENTITY1DSP00001" for x in sandbox_world.managers[ACME].links)


def test_more_than_20_accounts_per_call_is_a_400(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    accounts = [{"id": f"ENTITY{i}", "type": "ACCOUNT_ID"} for i in range(21)]
    response = link_call(sandbox_http, sandbox_headers, "associate", accounts)
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"


def test_at_most_50_linked_accounts_are_returned(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    seed = {
        "accounts": [{"id": f"ENTITY{i:04d}", "marketplace": "ATVPDKIKX0DER"} for i in range(60)],
        "manager_accounts": [
            {"id": ACME, "name": "Big", "links": [f"ENTITY{i:04d}" for i in range(60)]}
        ],
    }
    world = World.from_seed(seed)
    http = httpx.Client(transport=SandboxTransport(world))
    token = http.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": c.SANDBOX_REFRESH_TOKEN,
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": c.SANDBOX_CLIENT_SECRET,
        },
    ).json()["access_token"]
    headers = {**sandbox_headers, "Authorization": f"Bearer {token}"}
    assert len(linked_ids(http, headers)) == 50
    assert len(world.managers[ACME].links) == 60


def test_create_manager_account_returns_it_empty(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    response = sandbox_http.post(
        f"{NA}/managerAccounts",
        headers={**sandbox_headers, "Content-Type": c.MT_CREATE_MANAGER_ACCOUNT},
        json={"managerAccountName": "Globex Brands", "managerAccountType": "Advertiser"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["managerAccountName"] == "Globex Brands" and body["linkedAccounts"] == []
    assert sandbox_world.managers[body["managerAccountId"]].manager_type == "Advertiser"


def test_wrong_content_type_is_415_and_wrong_accept_is_406(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    body = {"managerAccountName": "X", "managerAccountType": "Agency"}
    response = sandbox_http.post(
        f"{NA}/managerAccounts",
        headers={**sandbox_headers, "Content-Type": "application/json"},
        json=body,
    )
    assert response.status_code == 415
    response = sandbox_http.get(
        f"{NA}/managerAccounts", headers={**sandbox_headers, "Accept": "application/json"}
    )
    assert response.status_code == 406


def test_amc_accounts_paginate_with_next_token(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    for i in range(4):
        sandbox_world.amc[f"ENTITYAMC{i}"] = sandbox_world.amc[AMC].__class__(
            f"ENTITYAMC{i}", f"AMC {i}", "ATVPDKIKX0DER"
        )
    sandbox_world.page_sizes["amc_accounts"] = 2
    seen: list[str] = []
    params: dict[str, str] = {}
    while True:
        body = sandbox_http.get(f"{NA}/amc/accounts", headers=sandbox_headers, params=params).json()
        seen += [a["accountId"] for a in body["amcAccounts"]]
        if "nextToken" not in body:
            break
        params = {"nextToken": body["nextToken"]}
    assert seen == list(sandbox_world.amc)
    bad = sandbox_http.get(f"{NA}/amc/accounts", headers=sandbox_headers, params={"nextToken": "x"})
    assert bad.status_code == 400 and set(bad.json()) == {"message", "requestId"}


def test_invite_then_duplicate_and_existing_user_get_errors_entries(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    body = invite(
        sandbox_http, sandbox_headers, "carol@example.com", "BOB@example.com", "alice@example.com"
    ).json()
    assert [s["user"]["emailAddress"] for s in body["successes"]] == ["carol@example.com"]
    assert [e["errorCode"] for e in body["errors"]] == [
        "DUPLICATE_INVITATION",
        "USER_ALREADY_EXISTS",
    ]
    again = invite(sandbox_http, sandbox_headers, "carol@example.com").json()
    assert again["successes"] == [] and again["errors"][0]["errorCode"] == "DUPLICATE_INVITATION"
    emails = [i.email for i in sandbox_world.amc[AMC].invitations]
    assert emails.count("carol@example.com") == 1


def test_invitation_roles_must_be_lower_case(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    body = invite(sandbox_http, sandbox_headers, "x@example.com", role="VIEWER").json()
    assert body["errors"][0]["errorCode"] == "INVALID_PERMISSION_SET"


def test_unknown_amc_account_is_403_and_missing_header_400(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    headers = amc_headers(sandbox_headers, c.MT_LIST_USERS, account="ENTITYNOPE")
    response = sandbox_http.post(f"{NA}/users/list", headers=headers)
    assert response.status_code == 403 and set(response.json()) == {"code", "message"}
    del headers["Amazon-Ads-AccountId"]
    assert sandbox_http.post(f"{NA}/users/list", headers=headers).status_code == 400


def _list_invitations(http: httpx.Client, headers: dict[str, str]) -> list[dict[str, object]]:
    response = http.post(
        f"{NA}/user-invitations/list", headers=amc_headers(headers, c.MT_LIST_INVITATIONS), json={}
    )
    assert response.status_code == 200, response.text
    invitations: list[dict[str, object]] = response.json()["invitations"]
    return invitations


def test_invitation_lifecycle_expire_resend_revoke(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    (bob,) = _list_invitations(sandbox_http, sandbox_headers)
    assert bob["state"] == "PENDING"
    sandbox_world.advance_clock(14 * 24 * 3600)
    headers = {**sandbox_headers}
    # the clock moved two weeks: mint a fresh token
    token = sandbox_world.mint_token(SANDBOX_CLIENT_ID)
    headers["Authorization"] = f"Bearer {token}"
    (bob,) = _list_invitations(sandbox_http, headers)
    assert bob["state"] == "EXPIRED"

    def update(state: str) -> httpx.Response:
        return sandbox_http.put(
            f"{NA}/user-invitations",
            headers=amc_headers(headers, c.MT_UPDATE_INVITATIONS),
            json={"updates": [{"invitationId": bob["invitationId"], "state": state}]},
        )

    assert update("RESENT").json()["successes"] == [
        {"invitationId": bob["invitationId"], "state": "RESENT"}
    ]
    (renewed,) = _list_invitations(sandbox_http, headers)
    assert renewed["state"] == "PENDING"
    assert float(str(renewed["expiration"])) > float(str(bob["expiration"]))
    assert float(str(renewed["expiration"])) >= (sandbox_world.now() + 14 * 24 * 3600 - 5) * 1000
    assert update("REVOKED").status_code == 200
    assert _list_invitations(sandbox_http, headers) == []
    assert update("REVOKED").json()["errors"][0]["errorCode"] == "NOT_FOUND"


def test_accepted_invitation_becomes_a_masked_user_with_a_role(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    user_id = sandbox_world.accept_invitation(AMC, "sandbox-invitation-bob")
    response = sandbox_http.post(
        f"{NA}/users/list", headers=amc_headers(sandbox_headers, c.MT_LIST_USERS)
    )
    assert {"userId": user_id, "emailAddress": "b***@example.com"} in response.json()["users"]
    roles = sandbox_http.post(
        f"{NA}/userRoles/list",
        headers=amc_headers(sandbox_headers, c.MT_QUERY_ROLES),
        json={"userId": user_id},
    ).json()
    assert roles == {"roles": [{"role": "VIEWER", "type": "ROLE"}]}
    assert _list_invitations(sandbox_http, sandbox_headers) == []


def test_users_list_paginates(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    sandbox_world.page_sizes["users"] = 3
    headers = amc_headers(sandbox_headers, c.MT_LIST_USERS)
    first = sandbox_http.post(f"{NA}/users/list", headers=headers, json={}).json()
    second = sandbox_http.post(
        f"{NA}/users/list", headers=headers, json={"nextToken": first["nextToken"]}
    ).json()
    assert len(first["users"]) == 3 and len(second["users"]) == 1 and "nextToken" not in second


def test_set_role_and_delete_user(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    response = sandbox_http.put(
        f"{NA}/userPermissions",
        headers=amc_headers(sandbox_headers, c.MT_UPDATE_PERMISSIONS),
        json={
            "userPermissions": [
                {
                    "userId": "amzn1.account.ERIN0001",
                    "permissionSet": {"type": "ROLE", "role": "ADMIN"},
                },
                {
                    "userId": "amzn1.account.NOPE",
                    "permissionSet": {"type": "ROLE", "role": "ADMIN"},
                },
            ]
        },
    )
    assert response.json()["successes"] == [{"userId": "amzn1.account.ERIN0001"}]
    assert response.json()["errors"][0]["userId"] == "amzn1.account.NOPE"
    assert sandbox_world.amc[AMC].user("amzn1.account.ERIN0001").role == "ADMIN"  # type: ignore[union-attr]
    response = sandbox_http.post(
        f"{NA}/userPermissions/delete",
        headers=amc_headers(sandbox_headers, c.MT_DELETE_PERMISSIONS),
        json={"users": [{"userId": "amzn1.account.DAVE0001"}]},
    )
    assert response.json() == {"successes": [{"userId": "amzn1.account.DAVE0001"}], "errors": []}
    assert sandbox_world.amc[AMC].user("amzn1.account.DAVE0001") is None


def test_last_admin_cannot_be_removed(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    response = sandbox_http.post(
        f"{NA}/userPermissions/delete",
        headers=amc_headers(sandbox_headers, c.MT_DELETE_PERMISSIONS),
        json={"users": [{"userId": "amzn1.account.ALICE0001"}]},
    )
    assert response.json()["errors"][0]["code"] == "USER_CANNOT_BE_REMOVED"
    assert sandbox_world.amc[AMC].user("amzn1.account.ALICE0001") is not None


def test_concurrent_writes_are_not_lost(
    sandbox_world: World, sandbox_transport: SandboxTransport, sandbox_headers: dict[str, str]
) -> None:
    import threading

    def worker(i: int) -> None:
        with httpx.Client(transport=sandbox_transport) as http:
            assert invite(http, sandbox_headers, f"user{i}@example.com").status_code == 200

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emails = {i.email for i in sandbox_world.amc[AMC].invitations}
    assert {f"user{i}@example.com" for i in range(16)} <= emails
    assert len({i.invitation_id for i in sandbox_world.amc[AMC].invitations}) == 17


@settings(max_examples=25, deadline=None)
@given(users=st.integers(min_value=0, max_value=12), cap=st.integers(min_value=1, max_value=5))
def test_paging_users_returns_each_user_exactly_once(users: int, cap: int) -> None:
    world = World.from_seed({"amc_accounts": [{"id": AMC, "users": []}]})
    for i in range(users):
        world.add_user(AMC, f"u{i}@example.com", "viewer")
    world.page_sizes["users"] = cap
    token = world.mint_token(SANDBOX_CLIENT_ID)
    headers = amc_headers(
        {"Authorization": f"Bearer {token}", "Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID},
        c.MT_LIST_USERS,
    )
    seen: list[str] = []
    body: dict[str, object] = {}
    with httpx.Client(transport=SandboxTransport(world)) as http:
        while True:
            page = http.post(f"{NA}/users/list", headers=headers, json=body).json()
            assert len(page["users"]) <= cap
            seen += [u["userId"] for u in page["users"]]
            if "nextToken" not in page:
                break
            body = {"nextToken": page["nextToken"]}
    assert sorted(seen) == sorted(u.user_id for u in world.amc[AMC].users)
    assert len(seen) == users


def test_control_routes_are_not_answered_for_foreign_hosts(sandbox_http: httpx.Client) -> None:
    with pytest.raises(httpx.ConnectError):
        sandbox_http.get("https://example.com/_sandbox/state")
    assert sandbox_http.get(f"{NA}/_sandbox/state").json()["version"] == 1


# -- the header that names each kind of account (reference §4.1) ---------------------------
def _kinds_http() -> tuple[httpx.Client, World]:
    world = World.from_seed(KINDS_SEED)
    return httpx.Client(transport=SandboxTransport(world)), world


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        (
            {"Amazon-Ads-AccountId": ACME},
            403,
            f"Forbidden: '{ACME}' is a manager account; name it with "
            "Amazon-Ads-ManagerAccountId, not Amazon-Ads-AccountId",
        ),
        (
            {"Amazon-Ads-ManagerAccountId": SA},
            403,
            f"Forbidden: '{SA}' is a sponsored-ads account; name it with Amazon-Ads-AccountId, "
            "not Amazon-Ads-ManagerAccountId",
        ),
        (
            {"Amazon-Ads-ManagerAccountId": AMC},
            403,
            f"Forbidden: '{AMC}' is an AMC account; name it with Amazon-Ads-AccountId, not "
            "Amazon-Ads-ManagerAccountId",
        ),
        (
            {"Amazon-Ads-ManagerAccountId": ACME, "Amazon-Ads-AccountId": DSP},
            400,
            "send one of Amazon-Ads-AccountId or Amazon-Ads-ManagerAccountId, not both",
        ),
        (
            {"Amazon-Ads-ManagerAccountId": "amzn1.ads1.ma1.notmine"},
            403,
            "Forbidden: no access to account 'amzn1.ads1.ma1.notmine'",
        ),
        ({}, 400, "the Amazon-Ads-AccountId header is required (S-INV/S-UPM)"),
    ],
)
def test_an_account_named_by_the_wrong_header_is_refused(
    headers: dict[str, str], status: int, message: str
) -> None:
    http, world = _kinds_http()
    auth = _auth(http)
    before = world.snapshot()
    for path, media_type, body in (
        ("/users/list", c.MT_LIST_USERS, {}),
        ("/userPermissions/delete", c.MT_DELETE_PERMISSIONS, {"users": [{"userId": OWNER}]}),
    ):
        response = http.post(
            f"{NA}{path}",
            headers={**auth, **headers, "Content-Type": media_type, "Accept": media_type},
            json=body,
        )
        assert (response.status_code, response.json()["message"]) == (status, message)
    assert world.snapshot() == before


@pytest.mark.parametrize("kind", list(ScopeKind))
def test_each_kind_answers_to_its_own_header(kind: ScopeKind) -> None:
    http, _ = _kinds_http()
    scope = SCOPES[kind]
    response = people_call(
        http, _auth(http), scope, "POST", "/users/list", c.MT_LIST_USERS, {"maxResults": 10}
    )
    assert response.status_code == 200, response.text
    expected = [MIXED, OWNER] if kind is ScopeKind.SPONSORED_ADS else [OWNER]
    assert [u["userId"] for u in response.json()["users"]] == expected


def _auth(http: httpx.Client) -> dict[str, str]:
    token = http.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": c.SANDBOX_REFRESH_TOKEN,
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": c.SANDBOX_CLIENT_SECRET,
        },
    ).json()["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        "Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID,
    }


def test_the_sandbox_clock_is_read_over_the_control_route(
    sandbox_world: World, sandbox_http: httpx.Client
) -> None:
    sandbox_world.freeze_clock(1_800_000_000.0)
    sandbox_world.advance_clock(3600)
    assert sandbox_http.get(f"{NA}/_sandbox/clock").json() == {"now": 1_800_003_600.0}


def test_a_control_operation_without_an_account_says_how_to_name_one(
    sandbox_http: httpx.Client,
) -> None:
    response = sandbox_http.post(f"{NA}/_sandbox/remove-user", json={"user_id": "u"})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "name the account: `account` (an id, or KIND:ID)"},
    )
