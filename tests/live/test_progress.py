"""A terminal that tells the truth. Through a pseudo-terminal: the progress line
names its phase, is cleared before anything else is printed, and waiting invitations are a
count. The screen is what a terminal would show (carriage returns and erase-line applied)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.driver import (
    OLGA_PETE,
    PROMOTE_PETE,
    Terminal,
    check_golden,
    write_manifest,
    write_seed,
)
from tests.driver import SAFE_AMC as AMC
from tests.driver import terminal_env as _env


def screen(raw: str) -> list[str]:
    """What a terminal shows after `raw`: `\\r` returns to the line's start, `ESC[K` erases
    to its end, colour codes print nothing."""
    lines: list[str] = []
    line: list[str] = []
    col = 0
    i = 0
    raw = raw.replace("\r\n", "\n")
    while i < len(raw):
        c = raw[i]
        if c == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        elif c == "\r":
            col = 0
        elif c == "\x1b":
            match = re.match(r"\x1b\[[0-9;]*([A-Za-z])", raw[i:])
            assert match is not None, repr(raw[i : i + 10])
            if match.group(1) == "K":
                del line[col:]
            i += len(match.group()) - 1
        else:
            if col < len(line):
                line[col] = c
            else:
                line.append(c)
            col += 1
        i += 1
    if line:
        lines.append("".join(line).rstrip())
    return lines


@pytest.fixture
def olga_pete_state(tmp_path: Path) -> tuple[str, str]:
    import subprocess
    import sys

    state = str(tmp_path / "state.json")
    subprocess.run(
        [sys.executable, "-m", "reconciler", "sandbox", "reset", "--sandbox-state", state,
         "--seed", write_seed(tmp_path, OLGA_PETE)],
        check=True, env=_env(), capture_output=True, timeout=60,
    )  # fmt: skip
    return state, write_manifest(tmp_path, PROMOTE_PETE)


def test_apply_on_a_terminal_reads_asks_applies_verifies_and_leaves_no_progress_behind(
    olga_pete_state: tuple[str, str],
) -> None:
    state, manifests = olga_pete_state
    term = Terminal(["apply", "--sandbox-state", state, manifests], _env())
    raw = term.read_until("Apply these changes? [y/N]")
    assert "reading live state:" in raw  # shown while reading...
    term.send("y\n")
    code, raw = term.finish()
    assert code == 0, raw
    shown = screen(raw)
    # ...and gone: no line of the screen is a progress line, or starts with one's remains.
    assert not [line for line in shown if "live state:" in line or "requests," in line]
    text = "\n".join(shown).replace(manifests, "<manifests>").replace(state, "<state>")
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:<digest>", text)
    check_golden("terminal-apply.txt", text + "\n")
    assert f"amc:{AMC}: set role of pete@corp.example" in text


def test_many_waiting_invitations_are_a_count_on_a_terminal(tmp_path: Path) -> None:
    import subprocess
    import sys

    people = [f"p{i:02}@corp.example" for i in range(40)]
    seed = {
        "amc_accounts": [
            {
                **OLGA_PETE["amc_accounts"][0],
                "invitations": [{"email": p, "role": "viewer"} for p in people],
            }
        ]
    }
    state = str(tmp_path / "state.json")
    subprocess.run(
        [sys.executable, "-m", "reconciler", "sandbox", "reset", "--sandbox-state", state,
         "--seed", write_seed(tmp_path, seed)],
        check=True, env=_env(), capture_output=True, timeout=60,
    )  # fmt: skip
    users = [*PROMOTE_PETE, *({"email": p, "role": "viewer"} for p in people)]
    manifests = write_manifest(tmp_path, users)
    term = Terminal(["plan", "--sandbox-state", state, manifests], _env())
    code, raw = term.finish()
    assert code == 0, raw
    shown = screen(raw)
    assert "  = 40 invitations waiting to be accepted (--show-waiting lists them)" in shown
    assert not [line for line in shown if "waiting for p" in line]
    assert any("set role of pete@corp.example" in line for line in shown)
