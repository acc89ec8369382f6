"""Contract tests: the sandbox against Amazon's OpenAPI specs.

Every response the sandbox sends validates against the spec's schema for its status (an
error status the spec does not declare must have the operation's 400 shape), every request
it accepts validates against the spec's request schema, and requests the spec forbids get
the spec's error status and shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from reconciler.model import Scope, ScopeKind
from reconciler.sandbox import SandboxTransport, World
from reconciler.sandbox import constants as c
from tests.sandbox import openapi
from tests.sandbox.helpers import (
    ACME,
    AMC,
    EU,
    KINDS_SEED,
    MIXED,
    NA,
    OWNER,
    SCOPES,
    amc_headers,
    invite,
    link_call,
    people_call,
)

pytestmark = pytest.mark.skipif(openapi.SPEC_DIR is None, reason=openapi.SKIP_REASON)


@dataclass
class Exchange:
    request: httpx.Request
    response: httpx.Response


class Recorder(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if request.url.host.startswith("advertising-api"):
            self.exchanges.append(Exchange(request, response))
        return response


@pytest.fixture
def recorder(sandbox_world: World) -> Recorder:
    return Recorder(SandboxTransport(sandbox_world))


@pytest.fixture
def http(recorder: Recorder) -> Iterator[httpx.Client]:
    with httpx.Client(transport=recorder) as client:
        yield client


@pytest.fixture(scope="module")
def operations() -> list[openapi.Operation]:
    return openapi.load_operations()


def _exercise(http: httpx.Client, h: dict[str, str], world: World) -> None:
    """Every operation, with successes, partial failures and whole-request errors."""
    world.page_sizes.update({"users": 2, "invitations": 1, "amc_accounts": 1})
    http.get(f"{NA}/managerAccounts", headers={**h, "Accept": c.MT_GET_MANAGER_ACCOUNTS})
    http.get(f"{NA}/managerAccounts", headers={**h, "Accept": "application/xml"})
    http.get(f"{NA}/managerAccounts", headers={"Amazon-Advertising-API-ClientId": "x"})
    create = {**h, "Content-Type": c.MT_CREATE_MANAGER_ACCOUNT, "Accept": c.MT_MANAGER_ACCOUNT}
    http.post(
        f"{NA}/managerAccounts",
        headers=create,
        json={"managerAccountName": "G", "managerAccountType": "Advertiser"},
    )
    http.post(
        f"{NA}/managerAccounts",
        headers=create,
        json={"managerAccountName": "G", "managerAccountType": "agency"},
    )
    http.post(
        f"{NA}/managerAccounts", headers={**create, "Content-Type": "application/json"}, json={}
    )
    one = [{"id": "ENTITY1ACME0005", "type": "ACCOUNT_ID", "roles": ["ENTITY_USER"]}]
    bad = [
        {"id": "NOPE", "type": "ACCOUNT_ID"},
        {"id": "5830000000001", "type": "DSP_ADVERTISER_ID"},
    ]
    link_call(http, h, "associate", one + bad)
    link_call(http, h, "associate", [{"id": "ENTITY2EURO0001", "type": "ACCOUNT_ID"}], host=EU)
    link_call(http, h, "disassociate", [{"id": "ENTITY1ACME0007", "type": "ACCOUNT_ID"}])
    link_call(http, h, "associate", [{"id": f"E{i}", "type": "ACCOUNT_ID"} for i in range(21)])
    link_call(http, h, "associate", one, manager="amzn1.ads1.ma1.unknown")
    for host in (NA, EU):
        http.get(f"{host}/v2/profiles", headers={**h, "Accept": c.MT_JSON})
    http.get(
        f"{NA}/v2/profiles", headers=h, params={"apiProgram": "account", "accessLevel": "view"}
    )
    http.get(f"{NA}/v2/profiles", headers=h, params={"profileTypeFilter": "dsp"})
    world.amc["ENTITY2"] = world.amc[AMC].__class__("ENTITY2", "Second", "ATVPDKIKX0DER")
    first = http.get(f"{NA}/amc/accounts", headers={**h, "Accept": c.MT_AMC}).json()
    http.get(f"{NA}/amc/accounts", headers=h, params={"nextToken": first["nextToken"]})
    http.get(f"{NA}/amc/accounts", headers=h, params={"nextToken": "garbage"})
    created = invite(http, h, "carol@example.com", "bob@example.com", "alice@example.com").json()
    invite(http, h, "x@example.com", role="ADMIN")
    http.post(
        f"{NA}/user-invitations",
        headers=amc_headers(h, c.MT_CREATE_INVITATIONS),
        json={"userInvitationRequests": []},
    )
    http.post(
        f"{NA}/user-invitations",
        headers=amc_headers(h, c.MT_CREATE_INVITATIONS, "ENTITYNOPE"),
        json={},
    )
    lst = amc_headers(h, c.MT_LIST_INVITATIONS)
    page = http.post(f"{NA}/user-invitations/list", headers=lst, json={"maxResults": 1}).json()
    http.post(f"{NA}/user-invitations/list", headers=lst, json={"nextToken": page["nextToken"]})
    http.post(f"{NA}/user-invitations/list", headers=lst, json={"maxResults": 0})
    upd = amc_headers(h, c.MT_UPDATE_INVITATIONS)
    carol = created["successes"][0]["invitationId"]
    http.put(
        f"{NA}/user-invitations",
        headers=upd,
        json={
            "updates": [
                {"invitationId": carol, "state": "RESENT"},
                {"invitationId": "nope", "state": "REVOKED"},
            ]
        },
    )
    http.put(
        f"{NA}/user-invitations",
        headers=upd,
        json={"updates": [{"invitationId": carol, "state": "ACCEPTED"}]},
    )
    http.put(
        f"{NA}/user-invitations",
        headers=upd,
        json={"updates": [{"invitationId": carol, "state": "REVOKED"}]},
    )
    users = amc_headers(h, c.MT_LIST_USERS)
    page = http.post(
        f"{NA}/users/list",
        headers=users,
        json={"maxResults": 2, "accessScopeFilter": {"include": ["DIRECT"]}},
    ).json()
    http.post(f"{NA}/users/list", headers=users, json={"nextToken": page["nextToken"]})
    http.post(f"{NA}/users/list", headers={k: v for k, v in users.items() if k != "Content-Type"})
    http.post(f"{NA}/users/list", headers=users, json={"maxResults": 101})
    roles = amc_headers(h, c.MT_QUERY_ROLES)
    http.post(f"{NA}/userRoles/list", headers=roles, json={"userId": "amzn1.account.ALICE0001"})
    http.post(f"{NA}/userRoles/list", headers=roles, json={"userId": "amzn1.account.NOBODY"})
    http.post(f"{NA}/userRoles/list", headers=roles, json={})
    perms = amc_headers(h, c.MT_UPDATE_PERMISSIONS)
    http.put(
        f"{NA}/userPermissions",
        headers=perms,
        json={
            "userPermissions": [
                {
                    "userId": "amzn1.account.ERIN0001",
                    "permissionSet": {"type": "ROLE", "role": "ADMIN"},
                },
                {
                    "userId": "amzn1.account.FRANK0001",
                    "permissionSet": {"type": "ROLE", "role": "EDITOR"},
                },
            ]
        },
    )
    delete = amc_headers(h, c.MT_DELETE_PERMISSIONS)
    http.post(
        f"{NA}/userPermissions/delete",
        headers=delete,
        json={"users": [{"userId": "amzn1.account.DAVE0001"}, {"userId": "amzn1.account.NOBODY"}]},
    )
    http.post(f"{NA}/userPermissions/delete", headers=delete, json={"users": []})
    http.post(
        f"{NA}/userPermissions/delete",
        headers={**delete, "Content-Type": "application/json"},
        json={"users": [{"userId": "x"}]},
    )
    http.post(
        f"{NA}/userPermissions/delete",
        headers={**delete, "Authorization": "Bearer nope"},
        json={"users": [{"userId": "x"}]},
    )


def _check(exchange: Exchange, ops: list[openapi.Operation]) -> list[str]:
    request, response = exchange.request, exchange.response
    where = f"{request.method} {request.url.path} -> {response.status_code}"
    op = openapi.find(ops, request.method, request.url.path)
    if op is None:
        return [f"{where}: no such operation in the specs"]
    problems: list[str] = []
    body = json.loads(response.content) if response.content else None
    status = str(response.status_code)
    declared = op.responses.get(status)
    if declared is None:  # an error the spec does not list: it must look like its 400
        assert response.status_code >= 400, where
        declared = op.responses.get("400", {})
    media_type = response.headers.get("content-type", "")
    if declared:
        if media_type not in declared:
            problems.append(f"{where}: Content-Type {media_type!r} not in {sorted(declared)}")
        elif declared[media_type] is not None:
            problems += [f"{where}: {e}" for e in openapi.errors(declared[media_type], body)]
    if 200 <= response.status_code < 300 and request.content:
        sent = request.headers["content-type"]
        if sent not in op.request:
            problems.append(f"{where}: accepted a request body of type {sent!r}")
        else:
            payload = json.loads(request.content)
            problems += [f"{where} request: {e}" for e in openapi.errors(op.request[sent], payload)]
    return problems


def test_every_exchange_matches_the_specs(
    http: httpx.Client,
    recorder: Recorder,
    sandbox_world: World,
    sandbox_headers: dict[str, str],
    operations: list[openapi.Operation],
) -> None:
    _exercise(http, sandbox_headers, sandbox_world)
    problems = [p for x in recorder.exchanges for p in _check(x, operations)]
    assert problems == []
    ok = {
        openapi.find(operations, x.request.method, x.request.url.path).operation_id  # type: ignore[union-attr]
        for x in recorder.exchanges
        if x.response.status_code < 300
    }
    assert ok == {route.operation for route in _routes()}
    statuses = {x.response.status_code for x in recorder.exchanges}
    assert {200, 207, 400, 401, 403, 404, 406, 415} <= statuses


def _routes() -> tuple[Any, ...]:
    from reconciler.sandbox.app import _routes as routes

    return routes()


# Requests the spec's request schema forbids, and the status the sandbox must answer.
INVALID = [
    ("POST", "/user-invitations", c.MT_CREATE_INVITATIONS, {"notifyInvitedUsers": True}, 400),
    (
        "POST",
        "/user-invitations",
        c.MT_CREATE_INVITATIONS,
        {
            "userInvitationRequests": [
                {
                    "user": {"emailAddress": f"u{i}@example.com", "userName": "u"},
                    "permissionSet": {"type": "ROLE", "role": {"name": "viewer"}},
                }
                for i in range(51)
            ]
        },
        400,
    ),
    ("PUT", "/user-invitations", c.MT_UPDATE_INVITATIONS, {"updates": []}, 400),
    ("POST", "/user-invitations/list", c.MT_LIST_INVITATIONS, {"maxResults": 51}, 400),
    (
        "POST",
        "/users/list",
        c.MT_LIST_USERS,
        {"accessScopeFilter": {"include": ["ALL", "DIRECT"]}},
        400,
    ),
    ("POST", "/userRoles/list", c.MT_QUERY_ROLES, {"maxResults": 3}, 400),
    (
        "POST",
        "/userPermissions/delete",
        c.MT_DELETE_PERMISSIONS,
        {"users": [{"userId": str(i)} for i in range(201)]},
        400,
    ),
    (
        "POST",
        "/managerAccounts",
        c.MT_CREATE_MANAGER_ACCOUNT,
        {"managerAccountName": "X", "managerAccountType": "AGENCY"},
        400,
    ),
    (
        "POST",
        f"/managerAccounts/{ACME}/associate",
        c.MT_LINK_REQUEST,
        {"accounts": [{"id": "ENTITY1ACME0005", "type": "ADVERTISER"}]},
        400,
    ),
]


@pytest.mark.parametrize(("method", "path", "media_type", "body", "status"), INVALID)
def test_requests_the_spec_forbids_get_the_spec_error(
    sandbox_http: httpx.Client,
    sandbox_headers: dict[str, str],
    operations: list[openapi.Operation],
    method: str,
    path: str,
    media_type: str,
    body: Any,
    status: int,
) -> None:
    op = openapi.find(operations, method, path)
    assert op is not None
    assert openapi.errors(op.request[media_type], body), "the test body should break the spec"
    ok = next(types for status, types in op.responses.items() if status.startswith("2"))
    headers = {**amc_headers(sandbox_headers, media_type), "Accept": next(iter(ok))}
    response = sandbox_http.request(method, f"{NA}{path}", headers=headers, json=body)
    assert response.status_code == status
    (schema,) = op.responses[str(status)].values()
    assert response.headers["content-type"] in op.responses[str(status)]
    assert openapi.errors(schema, response.json()) == []


def test_every_kind_of_account_matches_the_specs(operations: list[openapi.Operation]) -> None:
    """Invitations, users, roles (a custom set per country too), updates and deletes on a
    manager, sponsored-ads, DSP and AMC account, with per-item errors: all to the specs."""
    world = World.from_seed(KINDS_SEED)
    recorder = Recorder(SandboxTransport(world))
    with httpx.Client(transport=recorder) as http:
        token = http.post(
            c.TOKEN_URL,
            data={
                "grant_type": "refresh_token",
                "refresh_token": c.SANDBOX_REFRESH_TOKEN,
                "client_id": c.SANDBOX_CLIENT_ID,
                "client_secret": c.SANDBOX_CLIENT_SECRET,
            },
        ).json()["access_token"]
        h = {
            "Authorization": f"Bearer {token}",
            "Amazon-Advertising-API-ClientId": c.SANDBOX_CLIENT_ID,
        }
        custom = {
            "type": "CUSTOM_PERMISSION_SET",
            "customPermissionSet": [{"name": "reports_view"}],
        }
        for kind, scope in SCOPES.items():

            def call(
                method: str, path: str, media_type: str, body: Any, target: Scope = scope
            ) -> Any:
                return people_call(http, h, target, method, path, media_type, body).json()

            role = "viewer" if kind is ScopeKind.AMC else "VIEWER"
            items = [
                {
                    "user": {"emailAddress": f"{kind.value}@acme.example", "userName": "N"},
                    "permissionSet": {"type": "ROLE", "role": {"name": role}},
                },
                {
                    "user": {"emailAddress": f"c-{kind.value}@acme.example", "userName": "C"},
                    "permissionSet": custom,
                    "countries": [{"countryCode": "US"}],
                },
            ]
            call(
                "POST",
                "/user-invitations",
                c.MT_CREATE_INVITATIONS,
                {"userInvitationRequests": items},
            )
            call("POST", "/user-invitations/list", c.MT_LIST_INVITATIONS, {})
            call(
                "POST", "/users/list", c.MT_LIST_USERS, {"countryCodesFilter": {"include": ["US"]}}
            )
            for user in call("POST", "/users/list", c.MT_LIST_USERS, {})["users"]:
                call("POST", "/userRoles/list", c.MT_QUERY_ROLES, {"userId": user["userId"]})
            updates = [
                {"userId": OWNER, "permissionSet": {"type": "ROLE", "role": "ADMIN"}},
                {"userId": MIXED, "permissionSet": custom, "countryCodes": ["GB"]},
            ]
            call("PUT", "/userPermissions", c.MT_UPDATE_PERMISSIONS, {"userPermissions": updates})
            call(
                "POST",
                "/userPermissions/delete",
                c.MT_DELETE_PERMISSIONS,
                {"users": [{"userId": MIXED}]},
            )
    problems = [p for x in recorder.exchanges for p in _check(x, operations)]
    assert problems == []
    assert len(recorder.exchanges) >= 4 * 6
    assert all(x.response.status_code == 200 for x in recorder.exchanges)
