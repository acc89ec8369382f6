"""Where a command's API calls go: the options every command that talks to the Amazon Ads
API shares (`ApiOptions`), the client they open, the identity a plan and the apply lock
name, and the clock of the world the command talks to.

The world's clock decides `expires:` and invitation expiry. It is:
- for `--sandbox`, the state file's sandbox clock (`sandbox advance-clock`), as it runs;
- for a sandbox served by `reconciler sandbox serve` (`served.sandbox_at`: the sandbox's
  public credentials and loopback hosts only), the served sandbox's clock, read over HTTP
  once, when the command opens its client (before anything is read live) or, for a command
  that reads nothing live, when it asks for the time; from then on it runs with this
  machine's monotonic clock, so one command judges every grant by one consistent time;
- for anything else (Amazon), this machine's clock. No remote host is ever asked the time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.api import AdsClient
from reconciler.apply import lock as apply_lock
from reconciler.live.progress import Progress
from reconciler.live.session import api_identity, open_client
from reconciler.workflows import operations
from reconciler.workflows.sandbox import clock as sandbox_clock
from reconciler.workflows.served import served_clock

DEFAULT_LOCK_TIMEOUT = apply_lock.DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """`--sandbox`, `--sandbox-state FILE`, `--debug`, `--progress/--no-progress`."""

    sandbox: bool = False
    sandbox_state: str | None = None
    debug: bool = False
    show_progress: bool | None = None  # None: only when stderr is a terminal
    progress: Progress | None = field(default=None, compare=False)

    @classmethod
    def given(
        cls, *, sandbox: bool, sandbox_state: str | None, debug: bool, show_progress: bool | None
    ) -> ApiOptions:
        """The options as a command line gave them: `--sandbox-state` implies `--sandbox`;
        progress goes to stderr (`show_progress` None: only when it is a terminal)."""
        return cls(
            sandbox=sandbox or sandbox_state is not None,
            sandbox_state=sandbox_state,
            debug=debug,
            show_progress=show_progress,
            progress=Progress.for_stderr(enabled=show_progress),
        )

    @contextmanager
    def open_client(self, **kwargs: Any) -> Iterator[AdsClient]:
        """The client for these options (`reconciler.live.session.open_client`, with the
        world's clock: module docstring); extra keyword arguments go to `open_client`."""
        world_clock = None if self.sandbox else _served(served_clock(os.environ))
        with open_client(
            sandbox=self.sandbox,
            sandbox_state=self.sandbox_state,
            env=os.environ,
            debug=self.debug,
            progress=self.progress,
            world_clock=world_clock,
            **kwargs,
        ) as client:
            yield client

    def now(self) -> float:
        """The world's time for a command that reads nothing live (module docstring): no
        credentials are needed for it, and none but a sandbox's are looked at."""
        if self.sandbox:
            return sandbox_clock(state=self.sandbox_state, url=None)
        served = served_clock(os.environ)
        return time.time() if served is None else served


def _served(now: float | None) -> Callable[[], float] | None:
    if now is None:
        return None
    at = time.monotonic()
    return lambda: now + (time.monotonic() - at)


def context(api: ApiOptions, paths: Sequence[str]) -> operations.Context:
    """What a plan made with these options is bound to: the API identity and the commit."""
    identity = api_identity(sandbox=api.sandbox, sandbox_state=api.sandbox_state, env=os.environ)
    return operations.Context(
        identity=identity.text, commit=operations.find_commit(paths, os.environ)
    )


def lock_timeout(text: str) -> float:
    """`--lock-timeout`: 30s, 5m, 1h, plain seconds; 0 = do not wait (`UsageError`)."""
    return apply_lock.parse_duration(text)


@contextmanager
def locked(
    api: ApiOptions, *, enabled: bool, timeout_s: float, on_wait: Callable[[Path], None]
) -> Iterator[None]:
    """Hold the apply lock of the API account these options reach (`reconciler.apply.lock`:
    the client id and API hosts; for `--sandbox`, the state file, the sandbox's "host")."""
    if not enabled:
        yield
        return
    identity = api_identity(sandbox=api.sandbox, sandbox_state=api.sandbox_state, env=os.environ)
    path = apply_lock.lock_path(identity.client_id, identity.hosts, env=os.environ)
    with apply_lock.hold(path, timeout_s=timeout_s, on_wait=on_wait):
        yield
