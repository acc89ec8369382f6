"""Load and faults: seeded, repeatable, and faithful to what a client sees."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from reconciler.errors import EXIT_USAGE
from reconciler.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    Faults,
    SandboxTransport,
    World,
)
from reconciler.sandbox import constants as c
from reconciler.sandbox.faults import THROTTLED_HEADER, RetryAfter
from tests.chaos import harness
from tests.sandbox.helpers import ACME, EU, FE, NA, link_call


def _client(world: World, faults: Faults) -> tuple[httpx.Client, dict[str, str]]:
    token = world.mint_token(SANDBOX_CLIENT_ID)
    headers = {
        "Authorization": f"Bearer {token}",
        "Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID,
    }
    return httpx.Client(transport=SandboxTransport(world, faults=faults)), headers


def _outcomes(faults: Faults, n: int = 60) -> list[str]:
    world = World.default()
    http, headers = _client(world, faults)
    out: list[str] = []
    for _ in range(n):
        try:
            out.append(str(http.get(f"{NA}/amc/accounts", headers=headers).status_code))
        except httpx.RemoteProtocolError:
            out.append("drop")
    return out


def test_faults_are_off_by_default() -> None:
    assert set(_outcomes(Faults())) == {"200"}


def test_same_seed_same_fault_sequence_and_another_seed_differs() -> None:
    faults = Faults(p_429=0.2, p_5xx=0.2, p_drop=0.2, seed=7)
    first = _outcomes(faults)
    assert first == _outcomes(faults)
    assert {"200", "429", "500", "drop"} <= set(first)
    assert first != _outcomes(Faults(p_429=0.2, p_5xx=0.2, p_drop=0.2, seed=8))


def test_rate_limit_is_a_token_bucket_per_client_across_hosts() -> None:
    world = World.default()
    world.freeze_clock(1_800_000_000.0)
    http, headers = _client(world, Faults(rate_limit_rps=0.5, rate_limit_burst=3))
    statuses = [
        http.get(f"{host}/amc/accounts", headers=headers).status_code for host in (NA, EU, FE, NA)
    ]
    assert statuses == [200, 200, 200, 429]
    throttled = http.get(f"{NA}/amc/accounts", headers=headers)
    assert throttled.headers["Retry-After"] == "2"  # integer seconds: 1 token at 0.5/s
    assert world.stats.throttled == 2
    world.advance_clock(2)
    assert http.get(f"{NA}/amc/accounts", headers=headers).status_code == 200


def test_429_body_has_the_operation_error_shape() -> None:
    world = World.default()
    http, headers = _client(world, Faults(p_429=1.0))
    response = http.get(f"{NA}/managerAccounts", headers=headers)
    assert response.status_code == 429
    assert response.json()["code"] == "TOO_MANY_REQUESTS"
    assert int(response.headers["Retry-After"]) >= 1


def test_5xx_before_a_write_changes_nothing() -> None:
    world = World.default()
    http, headers = _client(world, Faults(p_5xx=1.0))
    accounts = [{"id": "ENTITY1ACME0005", "type": "ACCOUNT_ID"}]
    assert link_call(http, headers, "associate", accounts).status_code == 500
    assert all(x.account_id != "ENTITY1ACME0005" for x in world.managers[ACME].links)
    assert world.stats.faults["5xx"] == 1 and world.stats.writes == 0


@pytest.mark.parametrize("kind", ["5xx", "drop"])
def test_faults_after_a_write_apply_the_write_then_fail(kind: str) -> None:
    world = World.default()
    faults = Faults(p_5xx_after_write=1.0) if kind == "5xx" else Faults(p_drop_after_write=1.0)
    http, headers = _client(world, faults)
    accounts = [{"id": "ENTITY1ACME0005", "type": "ACCOUNT_ID"}]
    if kind == "5xx":
        assert link_call(http, headers, "associate", accounts).status_code == 500
    else:
        with pytest.raises(httpx.RemoteProtocolError):
            link_call(http, headers, "associate", accounts)
    assert any(x.account_id == "ENTITY1ACME0005" for x in world.managers[ACME].links)
    assert world.stats.writes == 1
    assert world.stats.faults[f"{kind}_after_write"] == 1
    # reads are not writes: they never get an after-write fault
    assert http.get(f"{NA}/amc/accounts", headers=headers).status_code == 200


def test_stats_count_requests_by_operation() -> None:
    world = World.default()
    http, headers = _client(world, Faults())
    http.get(f"{NA}/managerAccounts", headers=headers)
    http.get(f"{EU}/managerAccounts", headers=headers)
    assert world.stats.as_dict()["requests"] == {"getManagerAccountsForUser": 2}


def test_invalid_fault_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Faults(p_5xx=1.5)


def test_media_type_constant_is_the_spec_spelling() -> None:
    assert c.MT_CREATE_INVITATIONS == "application/vnd.CreateUserInvitations.v1+json"


# ---- per-operation limits and how a 429 is signalled ----------------------------
def _amc_accounts(http: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return http.get(f"{NA}/amc/accounts", headers=headers)


def _frozen(faults: Faults) -> tuple[World, httpx.Client, dict[str, str]]:
    world = World.default()
    world.freeze_clock(1_800_000_000.0)
    http, headers = _client(world, faults)
    return world, http, headers


def test_an_operation_limit_is_its_own_bucket_and_leaves_other_operations_alone() -> None:
    world, http, headers = _frozen(Faults(op_rate_limits=(("AmcpLinkListAmcAccounts", 0.5),)))
    assert _amc_accounts(http, headers).status_code == 200
    throttled = _amc_accounts(http, headers)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"  # one token at 0.5/s
    assert throttled.json()["message"].startswith("Too Many Requests")  # the AMC error shape
    assert http.get(f"{NA}/managerAccounts", headers=headers).status_code == 200
    assert world.stats.faults["op_rate_limited"] == 1 and world.stats.throttled == 1
    world.advance_clock(2)
    assert _amc_accounts(http, headers).status_code == 200


def test_a_request_needs_both_tokens_and_a_refused_one_takes_neither() -> None:
    faults = Faults(
        rate_limit_rps=0.1, rate_limit_burst=2, op_rate_limits=(("AmcpLinkListAmcAccounts", 0.5),)
    )
    world, http, headers = _frozen(faults)
    assert _amc_accounts(http, headers).status_code == 200  # client bucket 2 -> 1
    assert _amc_accounts(http, headers).status_code == 429  # the operation's bucket is empty
    # The refused request took no token from the client's bucket: one is left.
    assert http.get(f"{NA}/managerAccounts", headers=headers).status_code == 200
    refused = http.get(f"{NA}/managerAccounts", headers=headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "10"
    assert world.stats.faults["op_rate_limited"] == 1 and world.stats.faults["rate_limited"] == 1


def test_an_unknown_operation_limit_is_refused_naming_the_operations() -> None:
    with pytest.raises(
        ValueError, match=r"no such operation: ListUser; the sandbox has .*ListUsers"
    ):
        SandboxTransport(World.default(), faults=Faults(op_rate_limits=(("ListUser", 5.0),)))
    with pytest.raises(ValueError, match="must be positive"):
        Faults(op_rate_limits=(("ListUsers", 0.0),))


def test_429_signalling_is_off_by_default_retry_after_in_seconds_and_json() -> None:
    _, http, headers = _frozen(Faults(p_429=1.0))
    response = _amc_accounts(http, headers)
    assert response.headers["Retry-After"] == "1"
    assert THROTTLED_HEADER not in response.headers
    assert response.headers["Content-Type"] != "text/html"
    assert response.json()["message"].startswith("Too Many Requests")


def test_429_without_retry_after_with_the_throttled_header_and_an_html_page() -> None:
    faults = Faults(p_429=1.0, retry_after=RetryAfter.NONE, throttled_header=True, html_429=True)
    _, http, headers = _frozen(faults)
    response = _amc_accounts(http, headers)
    assert response.status_code == 429
    assert "Retry-After" not in response.headers
    assert response.headers[THROTTLED_HEADER] == "true"
    assert response.headers["Content-Type"] == "text/html"
    assert response.text.startswith("<html>") and "429 Too Many Requests" in response.text


def test_429_with_retry_after_as_an_http_date() -> None:
    faults = Faults(rate_limit_rps=0.25, rate_limit_burst=1, retry_after=RetryAfter.DATE)
    _, http, headers = _frozen(faults)
    assert _amc_accounts(http, headers).status_code == 200
    response = _amc_accounts(http, headers)
    assert response.headers["Retry-After"] == "Fri, 15 Jan 2027 08:00:04 GMT"  # now + 4 s
    assert email.utils.parsedate_to_datetime(response.headers["Retry-After"]).timestamp() == (
        1_800_000_004.0
    )


def _token(token_url: str) -> str:
    form = {
        "grant_type": "refresh_token",
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "refresh_token": SANDBOX_REFRESH_TOKEN,
    }
    token: str = httpx.post(token_url, data=form, timeout=10).json()["access_token"]
    return token


def _serve_two_list_calls(*flags: str) -> tuple[httpx.Response, dict[str, object]]:
    """Through `reconciler sandbox serve` as a process, with `AmcpLinkListAmcAccounts` limited
    to one call: call it twice, and another operation once; the second call's 429 and the
    sandbox's fault counts."""
    limit = ("--op-rate-limit", "AmcpLinkListAmcAccounts=0.01")
    with harness.serve(*limit, *flags) as served:
        headers = {
            "Authorization": f"Bearer {_token(served.env['AMAZON_ADS_TOKEN_URL'])}",
            "Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID,
        }
        first = httpx.get(f"{served.na_url}/amc/accounts", headers=headers, timeout=10)
        second = httpx.get(f"{served.na_url}/amc/accounts", headers=headers, timeout=10)
        other = httpx.get(f"{served.na_url}/managerAccounts", headers=headers, timeout=10)
        faults: dict[str, object] = served.stats()["faults"]
    assert (first.status_code, second.status_code, other.status_code) == (200, 429, 200)
    return second, faults


def test_serve_without_retry_after_with_the_throttled_header_and_html() -> None:
    throttled, faults = _serve_two_list_calls(
        "--retry-after", "none", "--throttled-header", "--html-429"
    )
    assert faults == {"op_rate_limited": 1}
    assert "Retry-After" not in throttled.headers
    assert throttled.headers[THROTTLED_HEADER] == "true"
    assert throttled.headers["Content-Type"] == "text/html"


def test_serve_with_retry_after_as_a_date() -> None:
    throttled, faults = _serve_two_list_calls("--retry-after", "date")
    assert faults == {"op_rate_limited": 1}
    when = email.utils.parsedate_to_datetime(throttled.headers["Retry-After"]).timestamp()
    assert when > time.time() + 50  # one token at 0.01/s: about 100 s away
    assert THROTTLED_HEADER not in throttled.headers
    assert throttled.json()["message"].startswith("Too Many Requests")


def test_serve_refuses_a_malformed_or_unknown_operation_limit() -> None:
    for value, message in [
        ("QueryUserRoles", "expected OPERATION=RPS"),
        ("QueryUserRoles=fast", "expected OPERATION=RPS"),
        ("QueryUserRole=5", "no such operation: QueryUserRole"),
        ("QueryUserRoles=-1", "must be positive"),
    ]:
        done = harness.run(["sandbox", "serve", "--op-rate-limit", value], timeout_s=60)
        assert done.returncode == EXIT_USAGE, done.describe()
        assert message in done.stderr
