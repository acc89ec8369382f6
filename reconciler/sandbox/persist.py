"""The persisted world behind `--sandbox`: one JSON file, locked while in use."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.sandbox.world import World

STATE_ENV = "RECONCILER_SANDBOX_STATE"
DEFAULT_STATE = Path(".reconciler") / "sandbox.json"


def state_path(path: str | Path | None = None) -> Path:
    """The explicit path, else $RECONCILER_SANDBOX_STATE, else .reconciler/sandbox.json."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get(STATE_ENV) or DEFAULT_STATE)


@contextmanager
def lock_state(path: str | Path | None = None, *, timeout_s: float = 30.0) -> Iterator[Path]:
    """Hold the exclusive `flock` on `<state>.lock`; yield the state file's path."""
    target = state_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.with_name(target.name + ".lock")
    with open(lock_path, "a+") as lock:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigError(
                        f"{target}: the sandbox state is locked by another process (a running "
                        "`reconciler sandbox serve --sandbox-state`? Then pass --url to address "
                        "it). "
                        "Wait for it, stop it, or point RECONCILER_SANDBOX_STATE elsewhere."
                    ) from None
                time.sleep(0.05)
        try:
            yield target
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


@contextmanager
def open_state(path: str | Path | None = None, *, timeout_s: float = 30.0) -> Iterator[World]:
    """Yield the persisted world, creating it from `World.default()` when absent.

    Holds an exclusive `flock` on `<state>.lock` for the whole block, so two processes never
    lose each other's writes, and saves atomically when the block exits without an error
    (an exception leaves the file as it was)."""
    with lock_state(path, timeout_s=timeout_s) as target:
        world = World.load(target) if target.exists() else World.default()
        yield world
        world.save(target)
