"""`reconciler sandbox ...` commands on a state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import EXIT_USAGE
from reconciler.sandbox import World
from tests.sandbox.helpers import ACME, AMC


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def test_reset_then_out_of_band_changes(
    capsys: pytest.CaptureFixture[str], sandbox_state_file: Path
) -> None:
    assert run(capsys, "sandbox", "reset")[0] == 0
    assert run(capsys, "sandbox", "link", ACME, "ENTITY1ACME0008")[0] == 0
    assert run(capsys, "sandbox", "unlink", ACME, "ENTITY1ACME0001")[0] == 0
    code, out, _ = run(capsys, "sandbox", "accept", AMC, "bob@example.com")
    assert code == 0 and "is now user" in out
    assert (
        run(
            capsys,
            "sandbox",
            "add-user",
            AMC,
            "gina@example.com",
            "--role",
            "admin",
            "--user-id",
            "amzn1.account.GINA",
        )[0]
        == 0
    )
    assert run(capsys, "sandbox", "remove-user", AMC, "amzn1.account.DAVE0001")[0] == 0
    assert run(capsys, "sandbox", "advance-clock", "2h")[0] == 0
    world = World.load(sandbox_state_file)
    links = [x.account_id for x in world.managers[ACME].links]
    assert "ENTITY1ACME0008" in links and "ENTITY1ACME0001" not in links
    users = {u.email: u.role for u in world.amc[AMC].users}
    assert users["gina@example.com"] == "ADMIN" and "bob@example.com" in users
    assert "dave@example.com" not in users
    assert world.clock_offset == 7200
    code, out, _ = run(capsys, "sandbox", "show")
    assert json.loads(out)["version"] == 1


def test_reset_with_a_seed_and_explicit_state(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed = Path(__file__).parents[2] / "examples" / "sandbox-seed.yaml"
    state = tmp_path / "other.json"
    assert run(capsys, "sandbox", "reset", "--seed", str(seed), "--state", str(state))[0] == 0
    assert "amzn1.ads1.ma1.example0001" in World.load(state).managers


def test_errors_say_what_is_wrong(
    capsys: pytest.CaptureFixture[str], sandbox_state_file: Path
) -> None:
    code, _, err = run(capsys, "sandbox", "accept", AMC, "nobody@example.com")
    assert code == EXIT_USAGE and "no open invitation for nobody@example.com" in err
    code, _, err = run(capsys, "sandbox", "advance-clock", "soon")
    assert code == EXIT_USAGE and "90m, 2h, 15d" in err
    code, _, err = run(capsys, "sandbox", "serve", "--host", "0.0.0.0")
    assert code == EXIT_USAGE and "--allow-remote" in err
