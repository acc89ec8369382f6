"""Builders for API tests: a client on the in-process sandbox, and small network fakes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from reconciler.api import AdsClient, ApiConfig, ClientEvent, RetryPolicy
from reconciler.sandbox import Faults, SandboxTransport, World

# No real waiting in tests: the sleeps are recorded instead (see `Sleeps`).
FAST = RetryPolicy(base_delay_s=0.0, max_delay_s=0.0)
AMC = "ENTITY1AA1AA11AAA1"
ACME = "amzn1.ads1.ma1.acme00000001"


class Sleeps:
    """A `sleep` that records how long the client asked to wait, and returns at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        with self.lock:
            self.calls.append(seconds)


def sandbox_client(
    world: World,
    *,
    faults: Faults | None = None,
    retry: RetryPolicy = FAST,
    sleep: Sleeps | None = None,
    transport: httpx.BaseTransport | None = None,
    config: ApiConfig | None = None,
    on_event: Callable[[ClientEvent], None] | None = None,
    max_concurrency: int = 4,
) -> AdsClient:
    return AdsClient(
        config or ApiConfig.sandbox(),
        transport=transport or SandboxTransport(world, faults=faults),
        retry=retry,
        max_concurrency=max_concurrency,
        on_event=on_event,
        sleep=sleep or Sleeps(),
    )


class Intercept(httpx.BaseTransport):
    """The sandbox behind a hand-written network rule: `rule(request)` returns a response to
    send instead, raises a transport error, or returns None to let the sandbox answer. Every
    request's host is recorded, so a test can prove a host was never contacted."""

    def __init__(
        self, inner: httpx.BaseTransport, rule: Callable[[httpx.Request], httpx.Response | None]
    ) -> None:
        self.inner = inner
        self.rule = rule
        self.hosts: list[str] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.hosts.append(request.url.host)
        replaced = self.rule(request)
        if replaced is not None:
            return replaced
        return self.inner.handle_request(request)


def invitation(email: str, role: str = "viewer") -> dict[str, Any]:
    return {
        "user": {"emailAddress": email, "userName": email.split("@")[0]},
        "permissionSet": {"type": "ROLE", "role": {"name": role}},
    }
