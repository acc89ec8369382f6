"""Suite-wide guards, and the fixtures the `--baseline REF` tests share: `repo`, a git
repository for manifests, and `applied`, its first commit applied to a sandbox. Fixtures for
the sandbox live in tests/sandbox_fixtures.py; the helpers these call, in tests/driver.py."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import EXIT_OK
from tests.driver import ANN, BOSS, CY, PEOPLE, SEED, TEAM, commit, git, run, seed_state, uid

pytest_plugins = ["tests.sandbox_fixtures"]


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost",) or str(host).endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a socket to a non-loopback address fails the test loudly: tests talk
    to the sandbox, never to Amazon."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise AssertionError(f"test tried to resolve a real host: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "--quiet", "-b", "main")
    return path


@pytest.fixture
def applied(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Commit A (boss, ann and cy as they are live) applied: (state file, A's sha)."""
    state = seed_state(tmp_path, capsys, SEED)
    a = commit(repo, [BOSS, ANN, CY], "A")
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", str(repo / "m"))
    assert code == EXIT_OK, out
    return state, a


@pytest.fixture
def team(sandbox_state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A sandbox whose one AMC account has seven people: alice the admin, six viewers."""
    seed = {
        "name": "team",
        "amc_accounts": [
            {
                "id": TEAM,
                "name": "Team AMC",
                "marketplace": "ATVPDKIKX0DER",
                "users": [
                    {
                        "email": f"{n}@corp.example",
                        "user_id": uid(n),
                        "role": "ADMIN" if n == "alice" else "VIEWER",
                    }
                    for n in PEOPLE
                ],
            }
        ],
    }
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(seed))
    assert run(capsys, "sandbox", "reset", "--seed", str(seed_file))[0] == EXIT_OK
    return sandbox_state_file
