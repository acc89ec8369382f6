"""One apply at a time per Amazon Ads API account on this machine (issue #6), like
Terraform's state lock and its `-lock-timeout`.

Two applies of the same manifests started together would both plan from the same live
state and both send it: both create manager account NAME (Amazon takes duplicate names and
none can be deleted), both invite the same people. `apply` holds this lock from before it
reads live state until it has verified, so the second one plans after the first finished.

- The lock file is keyed by the API client id and the API hosts (`lock_path`): applies to
  one API account share it, applies to different ones (or to two sandboxes) do not. It lives
  in `$XDG_RUNTIME_DIR` (per user, cleared at logout), else the temp dir, and is never
  deleted: removing a flock'd file lets a third process lock a new inode beside a holder.
- `fcntl.flock` is advisory and released by the kernel when its holder dies, even by
  SIGKILL, so a crashed apply never leaves a stale lock behind (unlike a lock *file*).
- Applies on different machines (two CI runners) are not serialised by this: the CI
  examples serialise their jobs, and apply looks again right before each create.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from reconciler.errors import LockError, UsageError

DEFAULT_TIMEOUT = "5m"
POLL_S = 0.1

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, *, flag: str = "--lock-timeout") -> float:
    """Seconds in `text`: `90`, `90s`, `5m`, `1h`, `250ms`; `0` means do not wait."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(
            f"{flag} {text!r}: give a duration such as 30s, 5m or 1h (0 = do not wait)"
        )
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]


def describe_duration(seconds: float) -> str:
    for unit in ("h", "m", "s"):
        amount = seconds / _UNIT_S[unit]
        if amount >= 1 and amount == int(amount):
            return f"{int(amount)}{unit}"
    return f"{seconds:g}s"


def lock_path(client_id: str, hosts: Iterable[str], *, env: Mapping[str, str]) -> Path:
    """The lock file for applies with this client id against these hosts. The name is a
    digest: the key itself need not be readable in a shared temp dir."""
    key = "\n".join([client_id, *sorted(set(hosts))])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    runtime = env.get("XDG_RUNTIME_DIR", "")
    base = Path(runtime) if runtime and Path(runtime).is_dir() else Path(tempfile.gettempdir())
    return base / f"reconciler-apply-{digest}.lock"


@contextmanager
def hold(
    path: Path,
    *,
    timeout_s: float,
    on_wait: Callable[[Path], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold the exclusive lock on `path` for the block. When another process (or another
    open of the file) holds it: call `on_wait` once, then wait up to `timeout_s` seconds
    (0: not at all) and raise `LockError` if it is still held."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise LockError(
            f"cannot open the apply lock {path}: {exc.strerror}. Set XDG_RUNTIME_DIR to a "
            "writable directory, or pass --no-lock if no other apply can run at the same time."
        ) from exc
    try:
        deadline = clock() + timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    raise LockError(_held_message(path, timeout_s)) from None
                if not waited and on_wait is not None:
                    on_wait(path)
                waited = True
                sleep(min(POLL_S, max(0.0, deadline - clock())))
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _held_message(path: Path, timeout_s: float) -> str:
    waited = f"after waiting {describe_duration(timeout_s)}" if timeout_s > 0 else "now"
    return (
        f"another apply is running against the same Amazon Ads account (lock {path} is held "
        f"{waited}). Wait for it to finish, or wait longer with --lock-timeout (e.g. "
        "--lock-timeout 15m). --no-lock skips the lock: use it only when no other apply can "
        "run at the same time."
    )
