"""`reconciler.apply.lock`: the apply lock, with real `flock`s on files in tmp_path."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from reconciler.apply.lock import describe_duration, hold, lock_dir, lock_path, parse_duration
from reconciler.errors import LockError, UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("90", 90.0), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_bad_duration_names_the_flag() -> None:
    with pytest.raises(UsageError) as caught:
        parse_duration("5 minutes")
    assert str(caught.value) == (
        "--lock-timeout '5 minutes': give a duration such as 30s, 5m or 1h (0 = do not wait)"
    )


def test_durations_are_described_as_given() -> None:
    assert [describe_duration(s) for s in (300.0, 3600.0, 45.0, 0.5)] == ["5m", "1h", "45s", "0.5s"]


def test_the_lock_file_is_keyed_by_client_id_and_hosts(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    one = lock_path("client-a", ["https://a:443", "https://b:443"], env=env)
    assert one.parent == tmp_path and one.name.startswith("reconciler-apply-")
    assert one == lock_path("client-a", ["https://b:443", "https://a:443"], env=env)
    assert one != lock_path("client-b", ["https://a:443", "https://b:443"], env=env)
    assert one != lock_path("client-a", ["https://a:443"], env=env)
    assert "client-a" not in one.name


OTHER_UID = 54321  # "another user": the tests run as root and chown to a uid nobody has


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shared temp dir like /tmp (sticky, world-writable), used by `tempfile`."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    return shared


def test_without_a_runtime_dir_the_lock_goes_to_a_private_per_user_dir(
    tmp_path: Path, temp_dir: Path
) -> None:
    missing = {"XDG_RUNTIME_DIR": str(tmp_path / "gone")}
    mine = temp_dir / f"reconciler-{os.geteuid()}"
    assert lock_path("c", ["h"], env=missing).parent == mine
    assert lock_path("c", ["h"], env={}).parent == mine
    info = mine.lstat()
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.geteuid()
    with hold(lock_path("c", ["h"], env={}), timeout_s=0):
        pass
    (lock,) = mine.iterdir()
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


def test_a_runtime_dir_others_can_write_is_not_used(tmp_path: Path, temp_dir: Path) -> None:
    shared = tmp_path / "run"
    shared.mkdir()
    shared.chmod(0o777)
    assert lock_dir(env={"XDG_RUNTIME_DIR": str(shared)}) == temp_dir / f"reconciler-{os.geteuid()}"
    shared.chmod(0o700)
    assert lock_dir(env={"XDG_RUNTIME_DIR": str(shared)}) == shared


def test_a_loosened_per_user_dir_of_ours_is_made_private_again(temp_dir: Path) -> None:
    mine = temp_dir / f"reconciler-{os.geteuid()}"
    mine.mkdir()
    mine.chmod(0o777)
    assert lock_dir(env={}) == mine
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700


def test_a_per_user_dir_made_by_another_user_is_refused(temp_dir: Path) -> None:
    planted = temp_dir / f"reconciler-{os.geteuid()}"
    planted.mkdir(mode=0o700)
    os.chown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(LockError) as caught:
        lock_path("c", ["h"], env={})
    assert str(caught.value) == (
        f"the apply lock directory {planted} belongs to another user (uid {OTHER_UID}), who "
        "could hold or replace the lock. Remove it (it is not reconciler's), or set "
        "XDG_RUNTIME_DIR to a directory only you can write."
    )


def test_a_per_user_dir_planted_as_a_symlink_is_refused(tmp_path: Path, temp_dir: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    planted = temp_dir / f"reconciler-{os.geteuid()}"
    planted.symlink_to(theirs)
    os.lchown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(LockError, match="is not a directory but a symbolic link"):
        lock_path("c", ["h"], env={})
    assert list(theirs.iterdir()) == []


def test_a_symlink_planted_as_the_lock_file_is_not_followed(tmp_path: Path) -> None:
    """The issue's reproduction: another user's link made a root apply create their file."""
    victim = tmp_path / "etc" / "victim"
    victim.parent.mkdir()
    planted = tmp_path / "reconciler-apply-0123456789abcdef.lock"
    planted.symlink_to(victim)
    os.lchown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(LockError) as caught, hold(planted, timeout_s=0):
        pass
    assert str(caught.value) == (
        f"the apply lock {planted} is a symbolic link, not a lock file: refusing to follow it. "
        "Remove it, and keep the lock in a directory only you can write (XDG_RUNTIME_DIR)."
    )
    assert not victim.exists()


def test_a_lock_file_of_another_user_is_an_error_that_says_so(tmp_path: Path) -> None:
    theirs = tmp_path / "apply.lock"
    theirs.write_text("")
    os.chown(theirs, OTHER_UID, OTHER_UID)
    with pytest.raises(LockError) as caught, hold(theirs, timeout_s=300):
        pass
    assert str(caught.value) == (
        f"the apply lock {theirs} belongs to another user (uid {OTHER_UID}): that user could "
        "hold it and block every apply. Remove it, and keep the lock in a directory only you "
        "can write (XDG_RUNTIME_DIR), or pass --no-lock if no other apply can run at the same "
        "time."
    )


def test_a_fifo_planted_as_the_lock_file_is_refused(tmp_path: Path) -> None:
    planted = tmp_path / "apply.lock"
    os.mkfifo(planted)
    with (
        pytest.raises(LockError, match="is a special file, not a lock file"),
        hold(planted, timeout_s=0),
    ):
        pass


def test_a_held_lock_fails_at_once_with_timeout_0_naming_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    with hold(path, timeout_s=0), pytest.raises(LockError) as caught, hold(path, timeout_s=0):
        pass
    assert str(caught.value) == (
        f"another apply is running against the same Amazon Ads account (lock {path} is held "
        "now). Wait for it to finish, or wait longer with --lock-timeout (e.g. --lock-timeout "
        "15m). --no-lock skips the lock: use it only when no other apply can run at the same "
        "time."
    )
    with hold(path, timeout_s=0):  # released by both blocks
        pass


def test_a_held_lock_is_waited_for_until_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    now = [0.0]
    waits: list[Path] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    waiting = hold(path, timeout_s=300, on_wait=waits.append, sleep=sleep, clock=lambda: now[0])
    with hold(path, timeout_s=0), pytest.raises(LockError) as caught, waiting:
        pass
    assert waits == [path]  # told once, not on every poll
    assert now[0] == 300.0
    assert "is held after waiting 5m" in str(caught.value)


def test_the_second_holder_waits_then_gets_the_lock(tmp_path: Path) -> None:
    """Deterministic: the first holder lets go only once the second has said it waits."""
    path = tmp_path / "apply.lock"
    second_waits = threading.Event()
    order: list[str] = []

    def first() -> None:
        with hold(path, timeout_s=0):
            order.append("first holds")
            started.set()
            assert second_waits.wait(timeout=60)
            order.append("first lets go")

    started = threading.Event()
    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(timeout=60)
    with hold(path, timeout_s=60, on_wait=lambda _: second_waits.set()):
        order.append("second holds")
    thread.join()
    assert order == ["first holds", "first lets go", "second holds"]


def test_apply_refuses_a_lock_dir_planted_by_another_user_in_one_line(
    temp_dir: Path,
    sandbox_state_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the CLI, as CI runs it: no XDG_RUNTIME_DIR, a shared temp dir."""
    from reconciler.cli import main

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    planted = temp_dir / f"reconciler-{os.geteuid()}"
    planted.mkdir(mode=0o700)
    os.chown(planted, OTHER_UID, OTHER_UID)
    examples = str(Path(__file__).resolve().parents[2] / "examples" / "manifests")
    with pytest.raises(SystemExit) as stop:
        main(["apply", "--sandbox", "--auto-approve", examples])
    _, err = capsys.readouterr()
    assert stop.value.code == 1
    assert err == (
        f"Error: the apply lock directory {planted} belongs to another user (uid {OTHER_UID}), "
        "who could hold or replace the lock. Remove it (it is not reconciler's), or set "
        "XDG_RUNTIME_DIR to a directory only you can write.\n"
    )
    assert not sandbox_state_file.exists() or "DAVE0001" in sandbox_state_file.read_text()
