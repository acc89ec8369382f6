"""The README's first steps, as a newcomer types them, in a fresh copy of the repository:
`make demo`, then the commands the README shows after it, which must continue from the
demo's sandbox (one shared state file) through the installed command in `.venv`.

The copy holds the tracked files only (as a clone would); its `.venv` is this test run's
virtualenv (a link), so nothing is installed again and no network is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


def _readme_block_after_demo() -> list[str]:
    """The shell block the README shows right after `make demo` explains `.venv`."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("After `make demo` the `reconciler` command is installed in `.venv`")
    block = text[text.index("```sh\n", start) + len("```sh\n") :]
    block = block[: block.index("```")]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    if sys.prefix == sys.base_prefix or shutil.which("make") is None:
        pytest.skip("needs the suite to run from a virtualenv, and make")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    target = tmp_path / "reconciler"
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return target


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AMAZON_ADS_", "GITHUB_")) and k not in ("RECONCILER_SANDBOX_STATE",)
    }


@pytest.mark.slow
def test_demo_then_the_readme_commands_share_one_sandbox(clone: Path) -> None:
    # -o: the linked virtualenv is installed already; do not rebuild it.
    demo = subprocess.run(
        ["make", "-o", ".venv/.installed", "demo"],
        cwd=clone,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert ". .venv/bin/activate" in demo.stdout  # the demo says how to go on
    assert (clone / ".reconciler" / "sandbox.json").exists()

    lines = _readme_block_after_demo()
    assert lines[0] == ". .venv/bin/activate"
    outputs: list[str] = []
    for line in lines[1:]:
        done = subprocess.run(
            ["bash", "-c", f". .venv/bin/activate && {line}"],
            cwd=clone,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        outputs.append(done.stdout)
    assert "No changes" in outputs[0]  # the demo's world, not a fresh one
    assert "resend invitation to bob@example.com" in outputs[2]
    assert "Usage: reconciler" in outputs[3]
