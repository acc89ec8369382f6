"""Load and faults: seeded, repeatable, and faithful to what a client sees."""

from __future__ import annotations

import httpx
import pytest

from reconciler.sandbox import SANDBOX_CLIENT_ID, Faults, SandboxTransport, World
from reconciler.sandbox import constants as c
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
