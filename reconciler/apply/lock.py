"""One apply at a time per Amazon Ads API account on this machine, like
Terraform's state lock and its `-lock-timeout`.

Two applies of the same manifests started together would both plan from the same live
state and both send it: both create manager account NAME (Amazon takes duplicate names and
none can be deleted), both invite the same people. `apply` holds this lock from before it
reads live state until it has verified, so the second one plans after the first finished.

- The lock file is keyed by the API client id and the API hosts (`lock_path`): applies to
  one API account share it, applies to different ones (or to two sandboxes) do not. It is
  never deleted: removing a flock'd file lets a third process lock a new inode beside a holder.
- It lives where only this user can write (a shared temp dir let another user
  plant a symlink that a root apply followed, or hold the lock and block every apply):
  `$XDG_RUNTIME_DIR` when it is a directory of ours that no one else can write, else a
  per-user directory `reconciler-<uid>` under the temp dir, created 0700, whose owner and
  type are checked (`lock_dir`). The file is opened with O_NOFOLLOW and must be a regular
  file of ours; anything else is a `LockError` that says what was found.
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
import stat
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
    return lock_dir(env=env) / f"reconciler-apply-{digest}.lock"


def _private(info: os.stat_result) -> bool:
    """A real directory of ours that nobody else can write into."""
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def lock_dir(*, env: Mapping[str, str]) -> Path:
    """The directory for apply locks: `$XDG_RUNTIME_DIR` when it is private to this user, else
    `<temp dir>/reconciler-<uid>`, created 0700. Raises LockError when that directory is not
    a directory of ours (planted by another user, or a symlink)."""
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime:
        try:
            if _private(os.stat(runtime)):
                return Path(runtime)
        except OSError:
            pass  # unset in spirit: fall back to the per-user directory
    uid = os.geteuid()
    path = Path(tempfile.gettempdir()) / f"reconciler-{uid}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise LockError(
            f"cannot create the apply lock directory {path}: {exc.strerror}. Set "
            "XDG_RUNTIME_DIR to a directory only you can write, or pass --no-lock if no other "
            "apply can run at the same time."
        ) from exc
    info = os.lstat(path)
    fix = (
        "Remove it (it is not reconciler's), or set XDG_RUNTIME_DIR to a directory only you "
        "can write."
    )
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise LockError(
            f"the apply lock directory {path} is not a directory but a {_kind(info)}. {fix}"
        )
    if info.st_uid != uid:
        raise LockError(
            f"the apply lock directory {path} belongs to another user ({_owner(info.st_uid)}), "
            f"who could hold or replace the lock. {fix}"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)  # ours, but loosened by hand: nobody else may write here
    return path


def _kind(info: os.stat_result) -> str:
    if stat.S_ISLNK(info.st_mode):
        return "symbolic link"
    if stat.S_ISDIR(info.st_mode):
        return "directory"
    return "regular file" if stat.S_ISREG(info.st_mode) else "special file"


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"uid {uid}, {pwd.getpwuid(uid).pw_name}"
    except (ImportError, KeyError):
        return f"uid {uid}"


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
    fd = _open(path)
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


def _open(path: Path) -> int:
    """The lock file, opened without following a symlink, and checked to be a regular file of
    ours: a file another user planted is theirs to hold, so it is refused, not waited on."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        try:
            found = _kind(os.lstat(path))
        except OSError:
            found = ""
        if found and found != "regular file":
            raise LockError(
                f"the apply lock {path} is a {found}, not a lock file: refusing to follow it. "
                "Remove it, and keep the lock in a directory only you can write (XDG_RUNTIME_DIR)."
            ) from None
        raise LockError(
            f"cannot open the apply lock {path}: {exc.strerror}. Set XDG_RUNTIME_DIR to a "
            "writable directory, or pass --no-lock if no other apply can run at the same time."
        ) from exc
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = f"is a {_kind(info)}, not a lock file"
    elif info.st_uid != os.geteuid():
        problem = (
            f"belongs to another user ({_owner(info.st_uid)}): that user could hold it and "
            "block every apply"
        )
    if problem is not None:
        os.close(fd)
        raise LockError(
            f"the apply lock {path} {problem}. Remove it, and keep the lock in a directory only "
            "you can write (XDG_RUNTIME_DIR), or pass --no-lock if no other apply can run at the "
            "same time."
        )
    return fd


def _held_message(path: Path, timeout_s: float) -> str:
    waited = f"after waiting {describe_duration(timeout_s)}" if timeout_s > 0 else "now"
    return (
        f"another apply is running against the same Amazon Ads account (lock {path} is held "
        f"{waited}). Wait for it to finish, or wait longer with --lock-timeout (e.g. "
        "--lock-timeout 15m). --no-lock skips the lock: use it only when no other apply can "
        "run at the same time."
    )
