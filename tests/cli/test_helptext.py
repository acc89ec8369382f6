"""`--help` of validate, schema and the sandbox commands: required arguments look required,
and each lists the environment variables it reads and its exit codes."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import cli


def _help(*argv: str) -> str:
    result = CliRunner().invoke(cli, [*argv, "--help"], prog_name="reconciler")
    assert result.exit_code == 0, result.output
    return result.output


def _sandbox_commands() -> list[str]:
    group = cli.commands["sandbox"]
    assert isinstance(group, click.Group)
    return sorted(group.commands)


@pytest.mark.parametrize(
    "command", ["plan", "drift", "apply", "adopt", "pin", "access", "review", "validate"]
)
def test_every_command_spells_its_manifest_paths_alike(command: str) -> None:
    assert f"Usage: reconciler {command} [OPTIONS] PATH...\n" in _help(command)
    assert "Usage: reconciler offboard [OPTIONS] WHO PATH...\n" in _help("offboard")


def test_validate_requires_its_paths() -> None:
    text = _help("validate")
    assert "Usage: reconciler validate [OPTIONS] PATH...\n" in text
    assert "GITHUB_ACTIONS" in text
    assert "  0   the manifests are valid" in text
    assert "  64  usage error (bad command line)" in text


@pytest.mark.parametrize("command", _sandbox_commands())
def test_sandbox_commands_list_environment_and_exit_codes(command: str) -> None:
    text = _help("sandbox", command)
    assert "Environment:\n    RECONCILER_SANDBOX_STATE" in text
    assert "Exit codes:\n    0 " in text
    assert "70  a bug in reconciler" in text
    # One name for the option across commands, the one plan and apply take too.
    assert "--sandbox-state FILE" in text
    assert "--sandbox-state" not in text.replace("--sandbox-state", "")


def test_the_old_state_spelling_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    # `--state` was a hidden alias: a typo'd path silently became a fresh demo world.
    state = tmp_path / "s.json"
    result = CliRunner().invoke(cli, ["sandbox", "add-user", "--state", str(state), "X", "a@b.c"])
    assert result.exit_code != 0
    assert "No such option '--state'. Did you mean '--sandbox-state'?" in result.output
    assert not state.exists()


def test_root_help_lists_every_exit_code_and_completion() -> None:
    text = _help()
    for code in ("0", "1", "2", "3", "64", "70", "130"):
        assert f"\n    {code} " in text
    assert "_RECONCILER_COMPLETE=bash_source reconciler" in text
    assert "AMAZON_ADS_CLIENT_SECRET" in text
