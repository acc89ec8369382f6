"""`sandbox serve` speaks HTTP like a server, on a raw loopback socket: chunked
bodies, JSON 405 for other methods, JSON 400 on malformed bodies with the connection still
usable, 400 for bodies that break the spec's request schemas, and a control API that a web
page cannot drive."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.model import Region
from reconciler.sandbox import SANDBOX_CLIENT_ID, SandboxTransport, World
from reconciler.sandbox import constants as c
from reconciler.sandbox.server import Endpoints, SandboxServer
from tests.sandbox.helpers import ACME, AMC, NA, amc_headers


@pytest.fixture
def served(sandbox_world: World) -> Iterator[Endpoints]:
    server = SandboxServer(sandbox_world, host="127.0.0.1", port=0)
    endpoints = server.start()
    try:
        yield endpoints
    finally:
        server.stop()


@pytest.fixture
def conn(served: Endpoints) -> Iterator[http.client.HTTPConnection]:
    """One kept-alive connection to the NA listener."""
    port = int(served.api_urls[Region.NA].rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        yield connection
    finally:
        connection.close()


def auth(sandbox_token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {sandbox_token}",
        "Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID,
    }


def send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
) -> tuple[int, Any, http.client.HTTPResponse]:
    conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    response = conn.getresponse()
    raw = response.read()
    data = json.loads(raw) if raw else None
    return response.status, data, response


def test_a_chunked_body_is_read_and_the_connection_kept(
    conn: http.client.HTTPConnection, sandbox_token: str, sandbox_world: World
) -> None:
    body = json.dumps({"accounts": [{"id": "ENTITY1ACME0005", "type": "ACCOUNT_ID"}]}).encode()
    headers = {
        **auth(sandbox_token),
        "Content-Type": c.MT_LINK_REQUEST,
        "Accept": c.MT_LINK_RESPONSE,
        "Transfer-Encoding": "chunked",
    }
    pieces = iter([body[:7], body[7:20], body[20:]])
    status, data, _ = send(
        conn, "POST", f"/managerAccounts/{ACME}/associate", pieces, headers, chunked=True
    )
    assert status == 207 and data["failedAccounts"] == [], data
    assert "ENTITY1ACME0005" in [x.account_id for x in sandbox_world.managers[ACME].links]
    # The same connection answers the next request.
    status, _, _ = send(conn, "GET", "/managerAccounts", headers={**auth(sandbox_token)})
    assert status == 200


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PATCH", "FOO"])
def test_other_methods_get_a_json_405(conn: http.client.HTTPConnection, method: str) -> None:
    status, data, response = send(conn, method, "/managerAccounts")
    assert status == 405
    assert response.getheader("Content-Type") == c.MT_JSON
    assert response.getheader("Allow") == "GET, POST"
    assert data == {"code": "METHOD_NOT_ALLOWED", "details": "use GET, POST"}


def test_head_gets_headers_only(conn: http.client.HTTPConnection) -> None:
    conn.request("HEAD", "/managerAccounts")
    response = conn.getresponse()
    assert response.status == 405 and response.read() == b""
    status, _, _ = send(conn, "TRACE", "/amc/accounts")  # the connection is still in step
    assert status == 405


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b"[" * 100_000, b'{"accounts": [' * 5000],
    ids=["not-json", "not-utf8", "nested-100000", "nested-objects"],
)
def test_a_malformed_body_is_a_json_400_on_a_usable_connection(
    conn: http.client.HTTPConnection, sandbox_token: str, body: bytes
) -> None:
    headers = {**auth(sandbox_token), "Content-Type": c.MT_LINK_REQUEST}
    status, data, _ = send(conn, "POST", f"/managerAccounts/{ACME}/associate", body, headers)
    assert status == 400
    assert data["code"] == "BAD_REQUEST" and data["message"].startswith(
        "the body is not valid JSON"
    )
    status, _, _ = send(conn, "GET", "/managerAccounts", headers=auth(sandbox_token))
    assert status == 200


def test_a_bad_content_length_is_a_json_400(served: Endpoints) -> None:
    import socket

    port = int(served.api_urls[Region.NA].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"POST /managerAccounts HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        answer = raw.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body) == {"code": "400", "message": "Content-Length 'abc' is not a number"}


def test_a_malformed_request_line_is_answered_in_json(served: Endpoints) -> None:
    import socket

    port = int(served.api_urls[Region.NA].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n")
        answer = raw.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431")
    assert json.loads(body) == {"code": "431", "message": "Line too long"}


# --- the spec's request schemas (in-process: the same app) ----------------------------------


@pytest.mark.parametrize(
    ("media_type", "path", "method", "body", "where"),
    [
        (  # a wrong type
            c.MT_LINK_REQUEST,
            f"/managerAccounts/{ACME}/associate",
            "POST",
            {"accounts": "ENTITY1ACME0005"},
            "accounts: 'ENTITY1ACME0005' is not of type 'array'",
        ),
        (  # a missing required `state`
            c.MT_UPDATE_INVITATIONS,
            "/user-invitations",
            "PUT",
            {"updates": [{"invitationId": "sandbox-invitation-bob"}]},
            "updates/0: 'state' is a required property",
        ),
        (  # a userId over 150 characters
            c.MT_QUERY_ROLES,
            "/userRoles/list",
            "POST",
            {"userId": "u" * 151},
            "userId: 'uuuu",
        ),
    ],
    ids=["wrong-type", "missing-state", "long-user-id"],
)
def test_bodies_that_break_the_spec_schemas_are_400(
    sandbox_http: httpx.Client,
    sandbox_headers: dict[str, str],
    sandbox_world: World,
    media_type: str,
    path: str,
    method: str,
    body: dict[str, Any],
    where: str,
) -> None:
    before = sandbox_world.snapshot()
    response = sandbox_http.request(
        method, f"{NA}{path}", headers=amc_headers(sandbox_headers, media_type), json=body
    )
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("the body does not match the ") and where in message
    assert len(message) < 300
    assert sandbox_world.snapshot() == before


# --- media types: lenient by default, strict on a setting ------------------------------------


def _list_users(http: httpx.Client, headers: dict[str, str], content_type: str, accept: str) -> int:
    return http.post(
        f"{NA}/users/list",
        headers={
            **headers,
            "Amazon-Ads-AccountId": AMC,
            "Content-Type": content_type,
            "Accept": accept,
        },
        json={"maxResults": 10},
    ).status_code


def _link(http: httpx.Client, headers: dict[str, str], accept: str) -> int:
    return http.post(
        f"{NA}/managerAccounts/{ACME}/associate",
        headers={**headers, "Content-Type": c.MT_LINK_REQUEST, "Accept": accept},
        json={"accounts": [{"id": "ENTITY1ACME0005", "type": "ACCOUNT_ID"}]},
    ).status_code


def test_media_types_are_lenient_by_default(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    upper = c.MT_LIST_USERS.upper()
    assert _list_users(sandbox_http, sandbox_headers, upper, upper) == 200
    # A spec-following client that sends the request media type as Accept.
    assert _link(sandbox_http, sandbox_headers, c.MT_LINK_REQUEST) == 207


def test_media_types_are_exact_when_strict(
    sandbox_world: World, sandbox_headers: dict[str, str]
) -> None:
    transport = SandboxTransport(sandbox_world, strict_media_types=True)
    with httpx.Client(transport=transport) as http:
        upper = c.MT_LIST_USERS.upper()
        assert _list_users(http, sandbox_headers, upper, c.MT_LIST_USERS) == 415
        assert _list_users(http, sandbox_headers, c.MT_LIST_USERS, upper) == 406
        assert _list_users(http, sandbox_headers, c.MT_LIST_USERS, c.MT_LIST_USERS) == 200
        assert _link(http, sandbox_headers, c.MT_LINK_REQUEST) == 406
        assert _link(http, sandbox_headers, c.MT_LINK_RESPONSE) == 207


# --- the control API --------------------------------------------------------------------------


def test_the_control_api_refuses_a_text_plain_post_from_a_web_page(
    served: Endpoints, sandbox_world: World
) -> None:
    base = served.api_urls[Region.NA]
    before = sandbox_world.snapshot()
    for headers, status in [
        ({"Content-Type": "text/plain", "Origin": "https://evil.example"}, 403),
        ({"Content-Type": "application/json", "Origin": "https://evil.example"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": "application/json", "Origin": "null"}, 403),
    ]:
        response = httpx.post(f"{base}/_sandbox/reset", content=b"{}", headers=headers)
        assert response.status_code == status, headers
        assert "error" in response.json()
    assert (
        httpx.get(f"{base}/_sandbox/state", headers={"Origin": "https://evil.example"}).status_code
        == 403
    )
    assert sandbox_world.snapshot() == before


def test_the_control_api_takes_json_from_the_cli_or_a_loopback_page(
    served: Endpoints, sandbox_world: World
) -> None:
    base = served.api_urls[Region.NA]
    for origin in (None, base, "http://localhost:3000", "http://[::1]:8080"):
        headers = {"Origin": origin} if origin else {}
        response = httpx.post(
            f"{base}/_sandbox/advance-clock", json={"seconds": 1}, headers=headers
        )
        assert response.status_code == 200, origin


@pytest.mark.parametrize(
    ("chunks", "status"),
    [(b"zz\r\nabc\r\n0\r\n\r\n", 400), (b"-5\r\nabc\r\n0\r\n\r\n", 400), (b"5\r\nab\r\n", 400)],
    ids=["not-hex", "negative", "short"],
)
def test_malformed_chunks_are_a_json_400(served: Endpoints, chunks: bytes, status: int) -> None:
    import socket

    port = int(served.api_urls[Region.NA].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(
            b"POST /managerAccounts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks
        )
        raw.shutdown(socket.SHUT_WR)
        answer = raw.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d" % status), answer
    assert json.loads(body)["code"] == str(status)


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        ("reset", b'{"seed": [1, 2]}', 400),
        ("reset", b'{"seed": {"manager_accounts": [{"id": 1, "type": "x"}]}}', 400),
        ("advance-clock", b'{"seconds": "soon"}', 400),
        ("advance-clock", b"[" * 100_000, 400),
        ("link", b"{}", 404),
        ("no-such-op", b"{}", 404),
    ],
)
def test_bad_control_requests_are_json_errors(
    served: Endpoints, route: str, body: bytes, status: int
) -> None:
    base = served.api_urls[Region.NA]
    response = httpx.post(
        f"{base}/_sandbox/{route}", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
