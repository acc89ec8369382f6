"""The one place that builds an API client from the command line's choices.

`--sandbox` talks to the persisted sandbox world in-process (no sockets, no credentials);
otherwise the configuration comes from the environment (`ApiConfig.from_env`), including
`AMAZON_ADS_API_URL_*` to point at `reconciler sandbox serve` or another emulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx

from reconciler.api import AdsClient, ApiConfig, ClientEvent, RetryPolicy, debuglog
from reconciler.api.client import DEFAULT_RETRY
from reconciler.live.progress import Progress


@contextmanager
def open_client(
    *,
    sandbox: bool,
    sandbox_state: str | None,
    env: Mapping[str, str],
    debug: bool,
    progress: Progress | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    max_concurrency: int = 16,
    transport: httpx.BaseTransport | None = None,
    world_clock: Callable[[], float] | None = None,
) -> Iterator[AdsClient]:
    """Yield a ready client; close it (and save the sandbox world) on exit.

    `sandbox=True`: `reconciler.sandbox.open_state(sandbox_state)` + `SandboxTransport` +
    `ApiConfig.sandbox()`; the world is saved only when the block ends without an error.
    `debug=True`: every request and response is logged to stderr, secrets redacted.
    `transport` replaces the network for a non-sandbox client (tests, emulators).
    `world_clock` is the time of the world a non-sandbox client talks to (default the
    machine's): a served sandbox's own clock (`reconciler.workflows.served`).
    `max_concurrency` is 16 here (the client's own default is 8): with ~20 ms of latency per
    request, 8 in flight cannot reach a 200 rps limit (benchmarks/read_scale.py)."""
    on_event: Callable[[ClientEvent], None] | None = progress.on_event if progress else None
    with ExitStack() as stack:
        if debug:
            handler = debuglog.enable()
            stack.callback(debuglog.disable, handler)
        clock: Callable[[], float] = world_clock or time.time
        if sandbox:
            from reconciler.sandbox import SandboxTransport, open_state

            world = stack.enter_context(open_state(sandbox_state))
            config = ApiConfig.sandbox()
            transport = SandboxTransport(world)
            clock = world.now
        else:
            config = ApiConfig.from_env(env)
        client = stack.enter_context(
            AdsClient(
                config,
                transport=transport,
                retry=retry,
                max_concurrency=max_concurrency,
                on_event=on_event,
                clock=clock,
            )
        )
        yield client


@dataclass(frozen=True, slots=True)
class ApiIdentity:
    """Which API account a command talks to: the client id and the API hosts (never a
    secret). For `--sandbox`, the sandbox's client id and its state file, the sandbox's
    "host". A plan records it; `apply --plan` refuses a plan made for another identity, and
    the apply lock is per identity."""

    client_id: str
    hosts: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"client {self.client_id} at {', '.join(self.hosts)}"


def api_identity(
    *, sandbox: bool, sandbox_state: str | None, env: Mapping[str, str]
) -> ApiIdentity:
    if sandbox:
        from reconciler.sandbox import SANDBOX_CLIENT_ID
        from reconciler.sandbox.persist import state_path

        where = f"sandbox:{state_path(sandbox_state).resolve()}"
        return ApiIdentity(SANDBOX_CLIENT_ID, (where,))
    config = ApiConfig.from_env(env)
    return ApiIdentity(config.client_id, tuple(sorted(config.api_origins())))
