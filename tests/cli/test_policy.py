"""Through the CLI, against the sandbox in a state file: the routine change passes
by default, a mass removal is refused and its plan shown in every format, limits live in the
manifests' `policy:` and flags win over them, and `validate` enforces the access rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, EXIT_PARTIAL
from reconciler.manifest import load_manifests
from reconciler.planfile.codec import read as read_plan
from reconciler.planfile.digest import desired_digest
from reconciler.sandbox import World
from tests.driver import PEOPLE, TEAM, uid
from tests.driver import team_manifests as manifests


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def users(state: Path) -> set[str]:
    return {u.user_id for u in World.load(state).amc[TEAM].users}


def test_two_of_seven_leaving_passes_by_default(
    team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = manifests(tmp_path, PEOPLE[:5])
    code, out, _ = run(capsys, "plan", "--sandbox", "--detailed-exitcode", m)
    assert code == EXIT_CHANGES and "REFUSED" not in out and "Plan: 2 to revoke." in out
    assert run(capsys, "apply", "--sandbox", "--auto-approve", m)[0] == EXIT_OK
    assert users(team) == {uid(n) for n in PEOPLE[:5]}


def test_a_mass_removal_is_refused_and_shown_in_every_format(
    team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = manifests(tmp_path, PEOPLE[:2])
    saved = tmp_path / "plan.json"
    code, out, err = run(capsys, "plan", "--sandbox", "--out", str(saved), m)
    assert code == EXIT_ERROR and "refused by 1 guard" in err
    assert out.startswith("REFUSED by 1 guard: this plan is shown for review")
    assert f"x amc:{TEAM}: max-removal-fraction" in out
    assert "counted: 5 of 7 live members (71%)" in out
    assert "limit:   2 (0.25 of 7, at least 2) (default)" in out
    assert "to lift: review the plan, then pass --max-removal-fraction 0.72" in out
    for n in PEOPLE[2:]:
        assert f"revoke user {n[0]}***@corp.example" in out, out
    assert "Plan: 5 to revoke." in out

    code, md, _ = run(capsys, "plan", "--sandbox", "--format", "markdown", m)
    assert code == EXIT_ERROR and "**REFUSED by 1 guard" in md
    assert "| max-removal-fraction |" in md and md.count("revoke") >= 5

    code, js, _ = run(capsys, "plan", "--sandbox", "--format", "json", m)
    data = json.loads(js)
    assert code == EXIT_ERROR and len(data["actions"]) == 5
    assert [r["guard"] for r in data["refused"]] == ["max-removal-fraction"]

    from_file = read_plan(saved)
    assert from_file.refused and len(from_file.actions) == 5

    writes = World.load(team).stats.writes
    code, _, err = run(capsys, "apply", "--sandbox", "--plan", str(saved), m)
    assert code == EXIT_ERROR and "refused when it was made" in err
    # Refusals are not trusted from the file either: emptied by hand, the plan made now
    # under the apply's own policy is refused all the same.
    edited = json.loads(saved.read_text())
    edited["refused"] = []
    saved.write_text(json.dumps(edited))
    code, _, err = run(capsys, "apply", "--sandbox", "--plan", str(saved), m)
    assert code == EXIT_ERROR and "5 of 7 live members" in err
    code, out, err = run(capsys, "apply", "--sandbox", "--auto-approve", m)
    assert code == EXIT_ERROR and "REFUSED" in out and "Nothing was applied" in err
    assert World.load(team).stats.writes == writes
    assert users(team) == {uid(n) for n in PEOPLE}


def test_a_limit_in_the_manifests_refuses_and_a_flag_lifts_it(
    team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = manifests(tmp_path, PEOPLE[:5], policy="  maxRemovals: 1\n")
    where = f"{tmp_path}/m/policy.yaml:3"
    code, out, _ = run(capsys, "plan", "--sandbox", m)
    assert code == EXIT_ERROR
    assert "x max-removals" in out and f"limit:   1 ({where})" in out
    assert f"Policy (not the defaults):\n  maxRemovals: 1 ({where})" in out
    code, out, _ = run(capsys, "plan", "--sandbox", "--max-removals", "2", m)
    assert code == EXIT_OK and "maxRemovals: 2 (--max-removals)" in out
    assert "REFUSED" not in out


def test_a_loosened_limit_changes_the_manifests_digest(
    team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = manifests(tmp_path, PEOPLE[:5], policy="  maxRemovals: 5\n")
    saved = tmp_path / "plan.json"
    assert run(capsys, "plan", "--sandbox", "--out", str(saved), m)[0] == EXIT_OK
    before = desired_digest(load_manifests([m]))
    (tmp_path / "m" / "policy.yaml").write_text("version: 1\npolicy:\n  maxRemovals: 50\n")
    assert desired_digest(load_manifests([m])) != before
    code, _, err = run(capsys, "apply", "--sandbox", "--plan", str(saved), m)
    assert code == EXIT_ERROR, err
    assert "the plan was made with --max-removals 5, this apply has 50" in err


def test_a_protected_user_survives_an_apply_of_manifests_that_omit_them(
    team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = manifests(tmp_path, PEOPLE[:5], policy=f"  protectedUsers: [{uid('gus')}]\n")
    code, out, _ = run(capsys, "apply", "--sandbox", "--auto-approve", m)
    assert code == EXIT_PARTIAL, out  # done, but live is not what the manifests say
    assert f"kept: revoking g***@corp.example ({uid('gus')}) not planned; protected by" in out
    assert users(team) == {uid(n) for n in (*PEOPLE[:5], "gus")}
    # The next plan keeps them again and changes nothing, but what protection keeps is
    # drift, never "matches".
    code, out, _ = run(capsys, "plan", "--sandbox", "--detailed-exitcode", m)
    assert code == EXIT_CHANGES and "kept: revoking g***@corp.example" in out
    code, out, _ = run(capsys, "drift", "--sandbox", m)
    assert code == EXIT_CHANGES and "[kept back by a safety rule]" in out
    assert "Live state matches" not in out


def test_a_look_alike_of_a_protected_address_is_not_protected(
    team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's example: the bot is protected by address and pinned. An admin added in
    the console whose masked address fits the bot's is someone else: drift says so and
    apply removes them."""
    for who in ("rogue", "reconciler-bot"):
        console = ("sandbox", "add-user", TEAM, f"{who}@corp.example", "--role", "admin")
        assert run(capsys, *console, "--user-id", uid(who.split("-")[-1]))[0] == EXIT_OK
    m = manifests(tmp_path, PEOPLE, policy="  protectedUsers: [reconciler-bot@corp.example]\n")
    team_yaml = Path(m) / "team.yaml"
    team_yaml.write_text(
        team_yaml.read_text()
        + f"      - {{email: reconciler-bot@corp.example, userId: {uid('bot')}, role: admin}}\n"
    )
    code, out, _ = run(capsys, "drift", "--sandbox", m)
    assert code == EXIT_CHANGES, out
    assert f"revoke user r***@corp.example ({uid('rogue')}, admin)" in out
    assert run(capsys, "apply", "--sandbox", "--auto-approve", m)[0] == EXIT_OK
    assert uid("rogue") not in users(team) and uid("bot") in users(team)


def test_validate_enforces_allowed_domains_and_admin_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "policy.yaml").write_text(
        "version: 1\npolicy:\n  allowedEmailDomains: [corp.example]\n  adminGroups: [admins]\n"
        "groups:\n  admins:\n    - {email: alice@corp.example}\n"
    )
    (folder / "team.yaml").write_text(
        f"version: 1\namcAccounts:\n  - id: {TEAM}\n    users:\n"
        "      - {group: admins, role: admin}\n"
        "      - {email: mallory@elsewhere.example, role: viewer}\n"
        "      - {email: bob@corp.example, role: admin}\n"
    )
    code, out, err = run(capsys, "validate", str(folder))
    text = out + err
    assert code == EXIT_ERROR
    assert re.search(
        rf"{folder}/team\.yaml:6:9: `mallory@elsewhere\.example` is not at an allowed email "
        r"domain of AMC account",
        text,
    ), text
    assert re.search(
        rf"{folder}/team\.yaml:7:9: `bob@corp\.example` is made admin of AMC account `{TEAM}`, "
        r"but only members of `admins` may be admins \(policy\.adminGroups at "
        rf"{folder}/policy\.yaml:4\)",
        text,
    ), text
