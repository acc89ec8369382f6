"""The shared driver of the tests that run the CLI: `run` calls `reconciler.cli.main` in
process and returns its exit code and output; the worlds, manifests and git repositories the
workflow tests drive it with; a command on a pseudo-terminal; the golden files.
Value builders live in tests/factories.py, pytest fixtures in tests/conftest.py."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import main
from reconciler.errors import EXIT_OK

# --- the CLI in process, on one AMC account (manifest spelling: userId, lower-case roles) --------

AMC = "ENTITYWHO0000001"
BOSS = {"email": "boss@corp.example", "userId": "amzn1.account.BOSS", "role": "admin"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out + err


def seed_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], users: list[dict[str, str]]
) -> str:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump({"amc_accounts": [{"id": AMC, "name": "Who AMC", "users": users}]}),
        encoding="utf-8",
    )
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed))[0] == EXIT_OK
    )
    return state


# --- `--baseline REF`: a real git repository of manifests ----------------------------------------

ANN = {"email": "ann@corp.example", "userId": "amzn1.account.ANN", "role": "viewer"}
CY = {"email": "cy@corp.example", "userId": "amzn1.account.CY", "role": "viewer"}
SEED = [
    {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"},
    {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "VIEWER"},
    {"email": "cy@corp.example", "user_id": "amzn1.account.CY", "role": "VIEWER"},
]
CHANGED = "[changed behind git's back]"
UNAPPLIED = "[not applied yet]"
GIT_CONFIG = ("-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_CONFIG, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, users: list[dict[str, Any]], message: str) -> str:
    """Write the manifests under repo/m and commit them; the commit's sha."""
    doc = {"version": 1, "amcAccounts": [{"id": AMC, "users": users}]}
    folder = repo / "m"
    folder.mkdir(exist_ok=True)
    (folder / "amc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def console_role(capsys: pytest.CaptureFixture[str], state: str, who: str, role: str) -> None:
    """Someone changes a role in the console: the user goes and comes back with `role`."""
    user_id, email = f"amzn1.account.{who.upper()}", f"{who}@corp.example"
    assert (
        run(capsys, "sandbox", "remove-user", "--sandbox-state", state, AMC, user_id)[0] == EXIT_OK
    )
    code, out = run(
        capsys, "sandbox", "add-user", "--sandbox-state", state, AMC, email, "--role", role,
        "--user-id", user_id,
    )  # fmt: skip
    assert code == EXIT_OK, out


def drift(
    capsys: pytest.CaptureFixture[str], state: str, repo: Path, *extra: str
) -> tuple[int, str]:
    return run(capsys, "drift", "--sandbox-state", state, *extra, str(repo / "m"))


def line_of(out: str, needle: str) -> str:
    (line,) = [x for x in out.splitlines() if needle in x and x.startswith("  [")]
    return line


def users_of(folder: Path) -> dict[str, str]:
    doc = yaml.safe_load((folder / "m" / "amc.yaml").read_text(encoding="utf-8"))
    return {u.get("userId") or u["email"]: u["role"] for u in doc["amcAccounts"][0]["users"]}


def amc_doc(users: list[dict[str, Any]]) -> str:
    return yaml.safe_dump({"version": 1, "amcAccounts": [{"id": AMC, "users": users}]})


# --- adopt on a seeded world (the sandbox seed's spelling: user_id, upper-case roles) ------------

A_AMC = "ENTITYAGENCYAMC1"
A_BOSS = {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"}
A_ANN = {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "VIEWER"}
A_ZED = {"email": "zed@corp.example", "user_id": "amzn1.account.ZED", "role": "VIEWER"}


def day(offset_days: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + offset_days * 86_400))


def seed(*amc: tuple[str, list[dict[str, str]]], **extra: Any) -> dict[str, Any]:
    return {
        "accounts": extra.pop("accounts", [{"id": "ENTITYAGENCY0001", "name": "Shop 1"}]),
        "manager_accounts": extra.pop("manager_accounts", []),
        "amc_accounts": [{"id": i, "users": users} for i, users in amc],
    }


def setup(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    world: dict[str, Any],
    files: dict[str, str | bytes],
) -> tuple[str, Path]:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(world), encoding="utf-8")
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed_file))[0] == 0
    )
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in files.items():
        data = text.encode("utf-8") if isinstance(text, str) else text
        (folder / name).write_bytes(data)
    return state, folder


def adopt(capsys: pytest.CaptureFixture[str], state: str, folder: Path) -> tuple[int, str]:
    return run(capsys, "adopt", "--sandbox-state", state, str(folder))


def settled(capsys: pytest.CaptureFixture[str], state: str, folder: Path) -> None:
    """After adopt: validate passes, plan shows no changes, adopt again is a no-op."""
    code, out = run(capsys, "validate", str(folder))
    assert code == EXIT_OK, out
    code, out = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(folder))
    assert code == EXIT_OK and "No changes." in out, out
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_OK and "Nothing to adopt." in out, out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def bytes_of(folder: Path, name: str = "access.yaml") -> bytes:
    return (folder / name).read_bytes()


# --- apply through a pseudo-terminal -------------------------------------------------------------

SAFE_AMC = "ENTITYSAFE000001"
OLGA_PETE = {
    "amc_accounts": [
        {
            "id": SAFE_AMC,
            "name": "Safe AMC",
            "users": [
                {"user_id": "amzn1.account.OLGA", "email": "olga@corp.example", "role": "ADMIN"},
                {"user_id": "amzn1.account.PETE", "email": "pete@corp.example", "role": "VIEWER"},
            ],
        }
    ]
}
PROMOTE_PETE = [
    {"email": "olga@corp.example", "userId": "amzn1.account.OLGA", "role": "admin"},
    {"email": "pete@corp.example", "userId": "amzn1.account.PETE", "role": "admin"},
]


def write_manifest(tmp_path: Path, users: list[dict[str, str]]) -> str:
    folder = tmp_path / "manifests"
    folder.mkdir(exist_ok=True)
    doc = {"version": 1, "amcAccounts": [{"id": SAFE_AMC, "users": users}]}
    (folder / "amc.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(folder)


def write_seed(tmp_path: Path, seed: dict[str, Any]) -> str:
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed), encoding="utf-8")
    return str(path)


class Terminal:
    """`reconciler ARGS` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import os
        import subprocess
        import sys

        from tests.chaos.harness import REPO

        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=REPO,
            env=env,
        )
        os.close(slave)
        self.output = ""

    def read_until(self, text: str, timeout_s: float = 60.0) -> str:
        import os
        import select
        import time

        deadline = time.monotonic() + timeout_s
        while text not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in:\n{self.output}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    assert text in self.output, f"no {text!r} in:\n{self.output}"
                self.output += chunk.decode("utf-8", "replace")
        return self.output

    def send(self, text: str) -> None:
        import os

        os.write(self.master, text.encode())

    def expect_running(self, wait_s: float = 0.05) -> None:
        """Wait a moment for output; the command must not have ended meanwhile."""
        import time

        self.read_available()
        assert self.process.poll() is None, f"it ended early:\n{self.output}"
        time.sleep(wait_s)

    def interrupt(self, timeout_s: float = 30.0) -> None:
        """Ctrl-C, as the terminal would send it: SIGINT, again each second until it exits
        (a signal that lands between two Python bytecodes of the prompt is not lost, but one
        that lands before the prompt reads is handled after it)."""
        import signal
        import subprocess

        for _ in range(int(timeout_s)):
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=1.0)
                return
            except subprocess.TimeoutExpired:
                self.read_available()
        self.process.kill()

    def read_available(self) -> None:
        import os
        import select

        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk.decode("utf-8", "replace")

    def finish(self, timeout_s: float = 60.0) -> tuple[int, str]:
        import os
        import select
        import subprocess

        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk.decode("utf-8", "replace")
        os.close(self.master)
        return code, self.output.replace("\r\n", "\n")


def terminal_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AMAZON_ADS_") and k != "RECONCILER_SANDBOX_STATE"
    }
    env.update(extra or {})
    env["NO_COLOR"] = "1"
    return env


# --- golden files --------------------------------------------------------------------------------

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from tests/golden/{name}"


# A sandbox AMC account of seven people (the `team` fixture in conftest.py): alice the admin,
# six viewers, each with a distinct masked address.
TEAM = "ENTITY7TEAM000001"
PEOPLE = ("alice", "bob", "carol", "dan", "eve", "fay", "gus")  # distinct masks: a***, b***...


def uid(name: str) -> str:
    return f"amzn1.account.{name.upper()}"


def team_manifests(tmp_path: Path, keep: tuple[str, ...], policy: str = "") -> str:
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    users = "".join(
        f"      - {{email: {n}@corp.example, role: {'admin' if n == 'alice' else 'viewer'}}}\n"
        for n in keep
    )
    (folder / "team.yaml").write_text(
        f"version: 1\namcAccounts:\n  - id: {TEAM}\n    users:\n{users}"
    )
    if policy:
        (folder / "policy.yaml").write_text("version: 1\npolicy:\n" + policy)
    return str(folder)
