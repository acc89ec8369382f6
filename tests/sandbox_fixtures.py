"""Pytest fixtures for talking to the sandbox in-process (registered in tests/conftest.py).

- `sandbox_world`: a fresh `World.default()` (the demo world), real clock;
- `sandbox_transport`: a `SandboxTransport` over it, no faults;
- `sandbox_http`: an `httpx.Client` on that transport;
- `sandbox_token` / `sandbox_headers`: a live access token and the two auth headers;
- `sandbox_state_file`: a state file path in tmp_path, exported as RECONCILER_SANDBOX_STATE.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    TOKEN_URL,
    SandboxTransport,
    World,
)


@pytest.fixture
def sandbox_world() -> World:
    return World.default()


@pytest.fixture
def sandbox_transport(sandbox_world: World) -> SandboxTransport:
    return SandboxTransport(sandbox_world)


@pytest.fixture
def sandbox_http(sandbox_transport: SandboxTransport) -> Iterator[httpx.Client]:
    with httpx.Client(transport=sandbox_transport) as client:
        yield client


@pytest.fixture
def sandbox_token(sandbox_http: httpx.Client) -> str:
    response = sandbox_http.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": SANDBOX_REFRESH_TOKEN,
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def sandbox_headers(sandbox_token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {sandbox_token}",
        "Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID,
    }


@pytest.fixture
def sandbox_state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "sandbox.json"
    monkeypatch.setenv("RECONCILER_SANDBOX_STATE", str(path))
    return path
