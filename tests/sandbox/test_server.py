"""`reconciler sandbox serve` over a real loopback socket, driven by curl as Amazon's docs
show it (reference §1.3, and the AMC guide's `GET /amc/accounts` sample)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.errors import UsageError
from reconciler.model import Region
from reconciler.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    Faults,
    World,
)
from reconciler.sandbox.constants import MT_LINK_REQUEST
from reconciler.sandbox.server import Endpoints, SandboxServer, check_loopback
from tests.sandbox.helpers import ACME, AMC

CURL = shutil.which("curl")


@pytest.fixture
def served(sandbox_world: World, tmp_path: Path) -> Iterator[tuple[Endpoints, Path]]:
    state = tmp_path / "state.json"
    server = SandboxServer(sandbox_world, host="127.0.0.1", port=0, state_path=state)
    endpoints = server.start()
    try:
        yield endpoints, state
    finally:
        server.stop()


def _curl(*args: str) -> dict[str, object]:
    assert CURL is not None
    out = subprocess.run(
        [CURL, "--silent", "--show-error", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    )
    data: dict[str, object] = json.loads(out.stdout)
    return data


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_as_amazons_docs_show_it(served: tuple[Endpoints, Path]) -> None:
    endpoints, _ = served
    # Login with Amazon: access-tokens.md
    token = _curl(
        "-X",
        "POST",
        "--data",
        f"grant_type=refresh_token&client_id={SANDBOX_CLIENT_ID}"
        f"&refresh_token={SANDBOX_REFRESH_TOKEN}&client_secret={SANDBOX_CLIENT_SECRET}",
        endpoints.token_url,
    )
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    # AMC account management guide, "Sample request" (header spelled ClientID there).
    accounts = _curl(
        "--location",
        f"{endpoints.api_urls[Region.NA]}/amc/accounts",
        "--header",
        f"Authorization: Bearer {token['access_token']}",
        "--header",
        f"Amazon-Advertising-API-ClientID: {SANDBOX_CLIENT_ID}",
    )
    assert accounts == {
        "amcAccounts": [
            {"accountId": AMC, "accountName": "Acme AMC", "marketplaceId": "ATVPDKIKX0DER"}
        ]
    }
    managers = _curl(
        f"{endpoints.api_urls[Region.NA]}/managerAccounts",
        "--header",
        "Accept: application/vnd.getmanageraccountsresponse.v1+json",
        "--header",
        f"Authorization: Bearer {token['access_token']}",
        "--header",
        f"Amazon-Advertising-API-ClientId: {SANDBOX_CLIENT_ID}",
    )
    assert managers["managerAccounts"][0]["managerAccountId"] == ACME  # type: ignore[index]


def test_httpx_over_the_socket_writes_and_persists(served: tuple[Endpoints, Path]) -> None:
    endpoints, state = served
    with httpx.Client() as http:
        token = http.post(
            endpoints.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": SANDBOX_CLIENT_ID,
                "refresh_token": SANDBOX_REFRESH_TOKEN,
                "client_secret": SANDBOX_CLIENT_SECRET,
            },
        ).json()["access_token"]
        response = http.post(
            f"{endpoints.api_urls[Region.EU]}/managerAccounts/{ACME}/associate",
            headers={
                "Authorization": f"Bearer {token}",
                "Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID,
                "Content-Type": MT_LINK_REQUEST,
            },
            json={"accounts": [{"id": "ENTITY2EURO0001", "type": "ACCOUNT_ID"}]},
        )
        assert response.status_code == 207
        result = http.post(
            f"{endpoints.api_urls[Region.NA]}/_sandbox/accept",
            json={"amc_account_id": AMC, "invitation_id": "bob@example.com"},
        )
        assert result.status_code == 200
    saved = World.load(state)
    assert any(x.account_id == "ENTITY2EURO0001" for x in saved.managers[ACME].links)
    assert any(u.email == "bob@example.com" for u in saved.amc[AMC].users)


def test_a_dropped_connection_closes_without_a_response(sandbox_world: World) -> None:
    server = SandboxServer(sandbox_world, faults=Faults(p_drop=1.0))
    endpoints = server.start()
    try:
        with httpx.Client() as http, pytest.raises(httpx.RemoteProtocolError):
            http.get(f"{endpoints.api_urls[Region.NA]}/amc/accounts")
    finally:
        server.stop()


def test_env_lines_name_every_endpoint(served: tuple[Endpoints, Path]) -> None:
    endpoints, _ = served
    keys = [line.split("=")[0] for line in endpoints.env_lines()]
    assert keys == [
        "AMAZON_ADS_TOKEN_URL",
        "AMAZON_ADS_API_URL_NA",
        "AMAZON_ADS_API_URL_EU",
        "AMAZON_ADS_API_URL_FE",
    ]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_non_loopback_bind_is_refused_unless_forced(host: str) -> None:
    with pytest.raises(UsageError, match="--allow-remote"):
        check_loopback(host, force=False)
    check_loopback(host, force=True)
    check_loopback("127.0.0.1", force=False)
    check_loopback("::1", force=False)
