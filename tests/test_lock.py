"""`reconciler.lock`: the apply lock, with real `flock`s on files in tmp_path."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reconciler.errors import LockError, UsageError
from reconciler.lock import describe_duration, hold, lock_path, parse_duration


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


def test_without_a_runtime_dir_the_lock_goes_to_the_temp_dir(tmp_path: Path) -> None:
    missing = {"XDG_RUNTIME_DIR": str(tmp_path / "gone")}
    assert lock_path("c", ["h"], env=missing).parent != tmp_path / "gone"
    assert lock_path("c", ["h"], env={}).parent == lock_path("c", ["h"], env=missing).parent


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
