"""`reconciler validate` and `reconciler schema`, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples" / "manifests"
SCHEMA_FILE = Path(__file__).parents[2] / "schemas" / "manifest.schema.json"


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as stop:
        main(args)
    code = stop.value.code
    assert isinstance(code, int)
    return code


def _bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nmanagerAccounts:\n  - nmae: Acme\n", encoding="utf-8")
    return path


def test_validate_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["validate", str(EXAMPLES)]) == 0
    out, err = capsys.readouterr()
    assert out == "3 files valid: 2 manager accounts, 8 linked accounts, 1 AMC account, 5 users\n"
    assert err == ""


def test_validate_invalid_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.chdir(tmp_path)
    _bad(tmp_path)
    assert _run(["validate", "bad.yaml"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    # The misspelled key is read as the one meant, so `name` is not also reported missing.
    assert err == "bad.yaml:3:5: unknown key `nmae`; did you mean `name`?\n1 problem found.\n"


def test_validate_github_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.chdir(tmp_path)
    _bad(tmp_path)
    assert _run(["validate", "bad.yaml"]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "::error file=bad.yaml,line=3,col=5::unknown key `nmae`; did you mean `name`?",
    ]


def test_validate_json_under_github_actions_keeps_stdout_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.chdir(tmp_path)
    _bad(tmp_path)
    assert _run(["validate", "--format", "json", "bad.yaml"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["valid"] is False
    assert err.splitlines()[0] == (
        "::error file=bad.yaml,line=3,col=5::unknown key `nmae`; did you mean `name`?"
    )


def test_validate_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.chdir(tmp_path)
    _bad(tmp_path)
    assert _run(["validate", "--format", "json", "bad.yaml"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is False
    assert document["diagnostics"] == [
        {
            "file": "bad.yaml",
            "line": 3,
            "col": 5,
            "message": "unknown key `nmae`; did you mean `name`?",
        }
    ]
    assert _run(["validate", "--format", "json", str(EXAMPLES)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is True
    assert document["summary"] == {
        "managerAccounts": 2,
        "linkedAccounts": 8,
        "amcAccounts": 1,
        "users": 5,
    }


def test_validate_needs_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["validate"]) == 64


def test_schema_prints_the_schema_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(SCHEMA_FILE.read_text())
