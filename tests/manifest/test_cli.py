"""`reconciler validate` and `reconciler schema`, through the real entry point."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
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


def _admins(
    tmp_path: Path, alice_expires: str, bob_role: str = "viewer", prune: bool = True
) -> Path:
    path = tmp_path / "amc.yaml"
    path.write_text(
        "version: 1\n"
        "amcAccounts:\n"
        "  - id: ENTITYFLOOR0001\n"
        f"    prune: {'true' if prune else 'false'}\n"
        "    users:\n"
        "      - email: alice@example.com\n"
        "        role: admin\n"
        f'        expires: "{alice_expires}"\n'
        "        reason: audit\n"
        f"      - {{email: bob@example.com, role: {bob_role}}}\n",
        encoding="utf-8",
    )
    return path


def _day(offset_days: float) -> str:
    return datetime.fromtimestamp(time.time() + offset_days * 86_400, UTC).strftime("%Y-%m-%d")


def test_validate_refuses_an_account_whose_only_admin_grant_expired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading counts admins as written; from its `expires:` the admin is gone, the plan
    would remove them, and its guard would refuse: validate says so first, at the line."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.chdir(tmp_path)
    gone = _day(-2)
    _admins(tmp_path, gone)
    assert _run(["validate", "amc.yaml"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "amc.yaml:8:18: AMC account `ENTITYFLOOR0001` has 0 admin(s) left, fewer than "
        f"minAdmins 1: the admin grant of alice@example.com on {gone} expired (`expires:`), "
        "so the plan would remove it; add an admin, move the `expires:`, or lower "
        "`minAdmins`\n1 problem found.\n"
    )
    # Another admin, or no prune (the manifests are not the whole truth), and it is valid.
    _admins(tmp_path, gone, bob_role="admin")
    assert _run(["validate", "amc.yaml"]) == 0
    _admins(tmp_path, gone, prune=False)
    assert _run(["validate", "amc.yaml"]) == 0
    assert capsys.readouterr().err == ""


def test_validate_warns_before_the_last_admin_grant_expires(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.chdir(tmp_path)
    soon = _day(5)
    _admins(tmp_path, soon)
    assert _run(["validate", "amc.yaml"]) == 0
    out, err = capsys.readouterr()
    message = (
        "AMC account `ENTITYFLOOR0001` will have 0 admin(s) from "
        f"{soon}, when the admin grant of alice@example.com expires: fewer than minAdmins 1, "
        "so the plan will refuse to remove it; add an admin, move the `expires:`, or lower "
        "`minAdmins`"
    )
    assert err == f"warning: amc.yaml:8:18: {message}\n"
    assert out.splitlines() == [
        "1 file valid: 0 manager accounts, 0 linked accounts, 1 AMC account, 2 users",
        f"::warning file=amc.yaml,line=8,col=18::{message}",
    ]
    assert _run(["validate", "--format", "json", "amc.yaml"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is True
    assert document["warnings"] == [{"file": "amc.yaml", "line": 8, "col": 18, "message": message}]
    # Beyond the window: nothing to say yet.
    assert _run(["validate", "--expiring-within", "3", "amc.yaml"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "::warning" not in out
