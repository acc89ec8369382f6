"""Every operation against the in-process sandbox, asserting on the sandbox's state. The
sandbox checks headers and vendored media types, so a wrong one fails these tests (406/415)."""

from typing import Any

import httpx
import pytest

from reconciler.api import AdsClient, AdsReader, ApiConfig, grants
from reconciler.api.auth import LwaAuth, TokenSource
from reconciler.errors import ApiError, ConfigError
from reconciler.model import KINDS, ManagerAccountType, Region, Role, Scope, ScopeKind
from reconciler.sandbox import SandboxTransport, World
from tests.api.helpers import ACME, AMC, Intercept, invitation, sandbox_client
from tests.sandbox.helpers import KINDS_SEED, SCOPES


def test_reads_return_raw_json(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        (acme,) = client.list_manager_accounts(Region.NA)
        assert acme["managerAccountId"] == ACME
        assert len(acme["linkedAccounts"]) == 5
        eu = client.list_manager_accounts(Region.EU)
        assert [a["linkedAccounts"] for a in eu] == [[]]
        assert [a["accountId"] for a in client.iter_amc_accounts()] == [AMC]
        users = {u["userId"]: u["emailAddress"] for u in client.iter_users(AMC)}
        assert users["amzn1.account.ALICE0001"] == "a***@example.com"
        (bob,) = client.iter_invitations(AMC)
        assert bob["user"]["emailAddress"] == "bob@example.com"
        assert client.list_user_roles(AMC, "amzn1.account.ALICE0001") == [
            {"role": "ADMIN", "type": "ROLE"}
        ]
        assert client.stats.requests == 6
        assert client.stats.token_requests == 1  # fetched once, cached


def test_reader_has_no_write_methods(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        reader = client.reader()
        assert isinstance(reader, AdsReader)
        assert not isinstance(reader, AdsClient)
        for write in ("create_manager_account", "associate", "disassociate",
                      "create_invitations", "update_invitations", "update_user_permissions",
                      "delete_user_permissions"):  # fmt: skip
            assert not hasattr(reader, write)


def test_create_manager_account(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        created = client.create_manager_account("New Agency", ManagerAccountType.AGENCY)
    assert created["managerAccountName"] == "New Agency"
    manager = sandbox_world.managers[created["managerAccountId"]]
    assert (manager.name, manager.manager_type) == ("New Agency", "Agency")


def test_associate_and_disassociate_report_each_account(sandbox_world: World) -> None:
    accounts = [
        {"id": "ENTITY2EURO0001", "type": "ACCOUNT_ID"},
        {"id": "ENTITY9MISSING", "type": "ACCOUNT_ID"},
    ]
    with sandbox_client(sandbox_world) as client:
        result = client.associate(Region.EU, ACME, accounts)
        assert [a["id"] for a in result.succeeded] == ["ENTITY2EURO0001"]
        assert [f.item["id"] for f in result.failed] == ["ENTITY9MISSING"]
        assert result.failed[0].code
        links = {x.account_id for x in sandbox_world.managers[ACME].links}
        assert "ENTITY2EURO0001" in links
        gone = client.disassociate(
            Region.NA, ACME, [{"id": "ENTITY1ACME0001", "type": "ACCOUNT_ID"}]
        )
        assert gone.ok
    assert "ENTITY1ACME0001" not in {x.account_id for x in sandbox_world.managers[ACME].links}


def test_invitations_create_and_revoke(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        result = client.create_invitations(AMC, [invitation("carol@example.com")], notify=False)
        assert result.ok
        (created,) = result.succeeded
        emails = {i.email for i in sandbox_world.amc[AMC].invitations}
        assert "carol@example.com" in emails
        revoked = client.update_invitations(
            AMC, [{"invitationId": created["invitationId"], "state": "REVOKED"}]
        )
        assert revoked.ok
        listed = {i["user"]["emailAddress"] for i in client.iter_invitations(AMC)}
    assert "carol@example.com" not in listed


def test_user_permissions_update_and_delete(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        updated = client.update_user_permissions(
            AMC,
            [
                {
                    "userId": "amzn1.account.DAVE0001",
                    "permissionSet": {"type": "ROLE", "role": "ADMIN"},
                }
            ],
        )
        assert updated.ok
        assert sandbox_world.amc[AMC].user("amzn1.account.DAVE0001").role == "ADMIN"  # type: ignore[union-attr]
        deleted = client.delete_user_permissions(AMC, ["amzn1.account.ERIN0001", "amzn1.nobody"])
        assert [s["userId"] for s in deleted.succeeded] == ["amzn1.account.ERIN0001"]
        assert [f.item for f in deleted.failed] == [{"userId": "amzn1.nobody"}]
    assert sandbox_world.amc[AMC].user("amzn1.account.ERIN0001") is None


def _links(n: int) -> list[dict[str, str]]:
    return [{"id": f"E{i}", "type": "ACCOUNT_ID"} for i in range(n)]


def _invites(n: int) -> list[dict[str, Any]]:
    return [invitation(f"u{i}@x.com") for i in range(n)]


@pytest.mark.parametrize(
    ("call", "limit"),
    [
        (lambda c, n: c.associate(Region.NA, ACME, _links(n)), 20),
        (lambda c, n: c.create_invitations(AMC, _invites(n), notify=False), 50),
        (lambda c, n: c.delete_user_permissions(AMC, [f"u{i}" for i in range(n)]), 200),
    ],
)
def test_batch_limits_are_checked_before_sending(
    sandbox_world: World, call: object, limit: int
) -> None:
    with sandbox_client(sandbox_world) as client:
        with pytest.raises(ValueError, match=f"between 1 and {limit} items"):
            call(client, limit + 1)  # type: ignore[operator]
        with pytest.raises(ValueError):
            call(client, 0)  # type: ignore[operator]
        assert client.stats.requests == 0
    assert sum(sandbox_world.stats.requests.values()) == 0


def test_http_errors_become_api_errors_with_the_servers_words(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client, pytest.raises(ApiError) as info:
        list(client.iter_users("ENTITY0NOTMINE"))
    assert info.value.status == 403
    assert info.value.operation == "ListUsers"
    assert "ListUsers (POST https://advertising-api.amazon.com/users/list) failed: HTTP 403" in str(
        info.value
    )
    # The hint names what every kind of account asks, not AMC and manager accounts only.
    for permission in ("AMC_ADMIN", "MasterAccount_Manager", "user_edit or manage_users"):
        assert permission in str(info.value)


def test_a_redirect_is_never_followed_with_credentials(sandbox_world: World) -> None:
    def redirect(request: httpx.Request) -> httpx.Response | None:
        if request.url.host == "advertising-api.amazon.com":
            return httpx.Response(307, headers={"Location": "https://evil.example.com/steal"})
        return None

    transport = Intercept(SandboxTransport(sandbox_world), redirect)
    with (
        sandbox_client(sandbox_world, transport=transport) as client,
        pytest.raises(ApiError) as info,
    ):
        client.list_manager_accounts(Region.NA)
    assert info.value.status == 307
    assert "refusing to follow a redirect" in str(info.value)
    assert "evil.example.com" not in transport.hosts
    assert transport.hosts == ["api.amazon.com", "advertising-api.amazon.com"]


def test_credentials_are_attached_only_for_configured_api_hosts(sandbox_world: World) -> None:
    transport = Intercept(SandboxTransport(sandbox_world), lambda request: None)
    config = ApiConfig.sandbox()
    with httpx.Client(transport=transport) as token_http:
        auth = LwaAuth(TokenSource(config, token_http), config)
        with (
            httpx.Client(transport=transport, auth=auth) as http,
            pytest.raises(ConfigError, match="refusing to send Amazon Ads credentials"),
        ):
            http.get("https://elsewhere.example.com/managerAccounts")
    assert transport.hosts == []  # not even the token was fetched


# -- every kind of account: the typed address picks the header (reference §4.1) -------------
PEOPLE_PATHS = {
    "/user-invitations",
    "/user-invitations/list",
    "/users/list",
    "/userRoles/list",
    "/userPermissions",
    "/userPermissions/delete",
}


@pytest.mark.parametrize("kind", list(ScopeKind))
def test_the_client_governs_people_on_every_kind(kind: ScopeKind) -> None:
    world = World.from_seed(KINDS_SEED)
    scope = SCOPES[kind]
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> None:
        sent.append(request)

    transport = Intercept(SandboxTransport(world), record)
    with sandbox_client(world, transport=transport) as client:
        viewer = grants.Grant(Role.VIEWER)
        request = grants.invitation_request(
            kind, email="ana@acme.example", name="Ana", grant=viewer
        )
        assert client.create_invitations(scope, [request], notify=False).ok
        (listed,) = client.iter_invitations(scope)
        ana = world.accept_invitation(scope.key, listed["invitationId"], kind)
        assert {"userId": ana, "emailAddress": "a***@acme.example"} in list(
            client.iter_users(scope)
        )
        custom = KINDS[kind].permissions[:2]
        wanted = grants.Grant(None, custom, ("CA", "US") if KINDS[kind].countries else ())
        if not custom:
            wanted = grants.Grant(Role.ADMIN)
        update = grants.permission_update(kind, user_id=ana, grant=wanted)
        assert client.update_user_permissions(scope, [update]).ok
        assert grants.read_roles(client.list_user_roles(scope, ana)) == (
            grants.checked(kind, wanted),
        )
        assert client.delete_user_permissions(scope, [ana]).ok
        assert world.account(scope.key, kind).user(ana) is None
    people = [r for r in sent if r.url.path in PEOPLE_PATHS]
    assert {r.url.path for r in people} == PEOPLE_PATHS
    assert people and all(r.headers.get(KINDS[kind].header) == scope.key for r in people)
    other = next(f.header for f in KINDS.values() if f.header != KINDS[kind].header)
    assert not any(other in r.headers for r in people)


def test_an_address_that_names_no_one_account_is_refused_before_sending(
    sandbox_world: World,
) -> None:
    with sandbox_client(sandbox_world) as client:
        for kind in ScopeKind:
            with pytest.raises(ValueError, match=f"^{kind.value}:\\*: not the id of one account$"):
                client.iter_users(Scope(kind, "*"))
        assert client.stats.requests == 0


def test_a_manager_account_id_sent_as_an_amc_id_is_refused_by_the_sandbox() -> None:
    world = World.from_seed(KINDS_SEED)
    with sandbox_client(world) as client, pytest.raises(ApiError) as caught:
        list(client.iter_users(ACME))  # a bare id means an AMC account: the wrong header
    assert caught.value.status == 403
    assert "name it with Amazon-Ads-ManagerAccountId" in str(caught.value)


def test_list_profiles_reads_one_hosts_json_array(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        na = client.list_profiles(Region.NA)
        eu = client.list_profiles(Region.EU)
        assert client.list_profiles(Region.FE) == []
    assert sorted(p["accountInfo"]["id"] for p in na) == [
        "ENTITY1DSP00001",
        "amzn1.ads-account.g.acme0000000001",
    ]
    assert [p["countryCode"] for p in eu] == ["UK"]
    assert sandbox_world.stats.requests["listProfiles"] == 3


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"profiles": []}, "listProfiles: expected a JSON array, got dict"),
        (
            [{"profileId": n} for n in range(5000)],
            "listProfiles: 5000 profiles on the NA host, the most Amazon returns (5000), so "
            "more may exist",
        ),
    ],
)
def test_list_profiles_refuses_what_is_not_the_whole_list(
    sandbox_world: World, answer: Any, message: str
) -> None:
    def rule(request: httpx.Request) -> httpx.Response | None:
        return httpx.Response(200, json=answer) if request.url.path == "/v2/profiles" else None

    transport = Intercept(SandboxTransport(sandbox_world), rule)
    with (
        sandbox_client(sandbox_world, transport=transport) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.list_profiles(Region.NA)
    assert str(caught.value) == message


def test_list_profiles_is_retried_on_429_then_answers(sandbox_world: World) -> None:
    answered: list[int] = []

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/v2/profiles" and len(answered) < 2:
            answered.append(429)
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"code": "THROTTLED"})
        return None

    transport = Intercept(SandboxTransport(sandbox_world), rule)
    with sandbox_client(sandbox_world, transport=transport) as client:
        assert len(client.list_profiles(Region.NA)) == 2
        assert client.stats.throttled == 2
