"""`reconciler import | pin | adopt` through `reconciler.cli.main`, against the sandbox."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import EXIT_OK


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        (("--sandbox",), "--sandbox"),
        (("--sandbox-state", "{state}"), "--sandbox-state {state}"),
    ],
)
def test_import_ends_with_a_plan_command_that_works_as_printed(
    sandbox_state_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    given: tuple[str, ...],
    hint: str,
) -> None:
    assert run(capsys, "sandbox", "reset")[0] == EXIT_OK
    state = shlex.quote(str(sandbox_state_file))
    out_dir = tmp_path / "my imports"  # a space: the hint quotes it for the shell
    argv = [a.format(state=sandbox_state_file) for a in given]
    code, out, _ = run(capsys, "import", *argv, "--out", str(out_dir))
    assert code == EXIT_OK, out
    last = out.splitlines()[-1]
    command = f"reconciler plan {hint.format(state=state)} {shlex.quote(str(out_dir))}"
    assert last == f"Next: {command} (it should show no changes)."
    # As printed, it plans against the world just imported: no changes.
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, *shlex.split(command)[1:])
    assert code == EXIT_OK and "No changes." in out, out
