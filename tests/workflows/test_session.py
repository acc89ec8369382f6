"""The clock a command's client goes by: a served sandbox's when the configuration proves
one, read once when the client opens; the state file's for `--sandbox`; this machine's for
anything else, however far the world behind it says its time has moved."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    SandboxTransport,
    World,
)
from reconciler.sandbox.server import Endpoints, SandboxServer
from reconciler.workflows import served
from reconciler.workflows.session import ApiOptions
from tests.workflows.test_served import Fake, sandbox_env

DAY = 86_400.0
FROZEN = 1_790_000_000.0  # 2026-09-21: far from this machine's time on any day it runs


@pytest.fixture
def frozen_world() -> World:
    world = World.default()
    world.freeze_clock(FROZEN)
    return world


@pytest.fixture
def fake() -> Iterator[Fake]:
    server = Fake()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def serving(frozen_world: World) -> Iterator[Endpoints]:
    server = SandboxServer(frozen_world, host="127.0.0.1", port=0)
    endpoints = server.start()
    try:
        yield endpoints
    finally:
        server.stop()


def point_at(monkeypatch: pytest.MonkeyPatch, endpoints: Endpoints) -> None:
    """The export lines `reconciler sandbox serve` prints, pasted."""
    monkeypatch.setenv("AMAZON_ADS_CLIENT_ID", SANDBOX_CLIENT_ID)
    monkeypatch.setenv("AMAZON_ADS_CLIENT_SECRET", SANDBOX_CLIENT_SECRET)
    monkeypatch.setenv("AMAZON_ADS_REFRESH_TOKEN", SANDBOX_REFRESH_TOKEN)
    monkeypatch.setenv("AMAZON_ADS_TOKEN_URL", endpoints.token_url)
    for region, url in endpoints.api_urls.items():
        monkeypatch.setenv(f"AMAZON_ADS_API_URL_{region.value}", url)


def test_a_served_sandbox_lends_its_clock_read_once_when_the_client_opens(
    monkeypatch: pytest.MonkeyPatch, serving: Endpoints
) -> None:
    point_at(monkeypatch, serving)
    url = next(iter(serving.api_urls.values()))
    with ApiOptions().open_client() as client:
        assert FROZEN <= client.now() < FROZEN + DAY
        served.call("POST", url, "advance-clock", {"seconds": 30 * DAY})
        assert client.now() < FROZEN + DAY  # one command, one reading
        assert list(client.reader().iter_amc_accounts())  # and it talks to that sandbox
    with ApiOptions().open_client() as client:
        assert FROZEN + 30 * DAY <= client.now() < FROZEN + 31 * DAY


def test_a_command_that_reads_nothing_live_asks_the_served_sandbox_too(
    monkeypatch: pytest.MonkeyPatch, serving: Endpoints
) -> None:
    point_at(monkeypatch, serving)
    assert FROZEN <= ApiOptions().now() < FROZEN + DAY


def test_amazons_hosts_keep_this_machines_clock_whatever_the_world_says(
    monkeypatch: pytest.MonkeyPatch, frozen_world: World
) -> None:
    # The sandbox's credentials, Amazon's hosts (no URL variables), answered in process by a
    # world whose clock is years away: that world is not proven a sandbox, so its time is
    # never asked (the network guard would fail the test) and this machine's is used.
    for key, value in sandbox_env("unused").items():
        if key.endswith(("_ID", "_SECRET", "_TOKEN")):
            monkeypatch.setenv(key, value)
    before = time.time()
    with ApiOptions().open_client(transport=SandboxTransport(frozen_world)) as client:
        assert client.now() >= before
        accounts = list(client.reader().iter_amc_accounts())
    assert accounts  # the world answered: it is its clock that was not taken
    assert ApiOptions().now() >= before


def test_without_credentials_a_command_that_reads_nothing_live_keeps_this_machines_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in sandbox_env("unused"):
        monkeypatch.delenv(key, raising=False)
    before = time.time()
    assert ApiOptions().now() >= before


def test_the_state_file_clock_rules_for_sandbox_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: Fake
) -> None:
    for key, value in sandbox_env(fake.url).items():
        monkeypatch.setenv(key, value)
    state = tmp_path / "state.json"
    world = World.default()
    world.freeze_clock(FROZEN - 90 * DAY)
    world.save(state)
    options = ApiOptions(sandbox=True, sandbox_state=str(state))
    with options.open_client() as client:
        assert client.now() == FROZEN - 90 * DAY
        assert list(client.reader().iter_amc_accounts())
    assert options.now() == FROZEN - 90 * DAY
    assert fake.paths == []  # the served-looking environment was never asked
