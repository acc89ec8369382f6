"""`reconciler plan | apply | drift | import` through `reconciler.cli.main`, against the
sandbox persisted in a temporary state file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler.apply.lock import hold, lock_path
from reconciler.cli import main
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, EXIT_USAGE
from reconciler.planfile.codec import decode as plan_from_json
from reconciler.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    World,
)
from reconciler.sandbox.server import Endpoints, SandboxServer
from tests.driver import A_ANN, A_BOSS, AMC, ANN, BOSS, PEOPLE, amc_doc, team_manifests
from tests.factories import ACME_AMC, ACME_ID

DAY = 86_400.0
EXAMPLES = str(Path(__file__).resolve().parents[2] / "examples" / "manifests")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


@pytest.fixture
def state(sandbox_state_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run(capsys, "sandbox", "reset")[0] == EXIT_OK
    return sandbox_state_file


def world(state: Path) -> World:
    return World.load(state)


def gina_role(state: Path) -> str | None:
    user = world(state).amc[ACME_AMC].user("amzn1.account.GINA0001")
    return user.role if user is not None else None


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


# ---- the demo -------------------------------------------------------------------------------


def test_make_demo_sequence(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", EXAMPLES)
    assert code == EXIT_OK and "3 files valid" in out
    code, out, _ = run(capsys, "plan", "--sandbox", EXAMPLES)
    assert code == EXIT_OK
    assert out.rstrip().splitlines()[-2] == (
        "Plan: 1 to create, 4 to associate, 1 to invite, 1 to change access, "
        "1 to disassociate, 1 to revoke."
    )
    assert run(capsys, "plan", "--sandbox", "--detailed-exitcode", EXAMPLES)[0] == EXIT_CHANGES
    code, out, _ = run(capsys, "apply", "--sandbox", "--auto-approve", EXAMPLES)
    assert code == EXIT_OK, out
    assert "Apply finished: 9 done (9 verified), 0 failed, 0 skipped; 8 write call(s)." in out
    assert "Converged" in out
    code, out, _ = run(capsys, "plan", "--sandbox", "--detailed-exitcode", EXAMPLES)
    assert code == EXIT_OK
    assert "No changes." in out and "= 2 invitations waiting to be accepted" in out
    out = run(capsys, "plan", "--sandbox", "--show-waiting", EXAMPLES)[1]
    assert "waiting for carol@example.com" in out
    after = world(state)
    assert {x.account_id for x in after.managers[ACME_ID].links} >= {"ENTITY2EURO0001"}
    assert after.amc[ACME_AMC].user("amzn1.account.DAVE0001") is None


def test_apply_without_a_terminal_refuses_and_names_auto_approve(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "apply", "--sandbox", EXAMPLES)
    assert code == EXIT_ERROR
    assert "Plan: 1 to create" in out  # the plan is shown first
    assert "--auto-approve" in err and "no terminal" in err
    assert world(state).stats.writes == 0 and world(state).managers.keys() == {ACME_ID}


def test_drift_exits_2_until_applied_and_pending_invitations_are_not_drift(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "drift", "--sandbox", EXAMPLES)
    assert code == EXIT_CHANGES and "to associate" in out
    assert run(capsys, "apply", "--sandbox", "--auto-approve", EXAMPLES)[0] == EXIT_OK
    code, out, _ = run(capsys, "drift", "--sandbox", "--show-waiting", EXAMPLES)
    assert code == EXIT_OK and "waiting for bob@example.com" in out
    assert run(capsys, "drift", "--sandbox", "/nonexistent/manifests")[0] == EXIT_ERROR


# ---- plan files -----------------------------------------------------------------------------


def test_plan_file_is_the_json_output_and_holds_no_secret(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "plans" / "plan.json"
    code, stdout, _ = run(
        capsys, "plan", "--sandbox", "--format", "json", "--out", str(out_file), EXAMPLES
    )
    assert code == EXIT_OK
    saved = out_file.read_text()
    assert json.loads(saved)["formatVersion"] == 4
    assert out_file.stat().st_mode & 0o777 == 0o600  # full addresses: personal data
    assert json.loads(stdout)["actions"] == json.loads(saved)["actions"]
    assert len(plan_from_json(json.loads(saved), source="plan.json").actions) == 9
    for secret in (SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN, "Atza|", "Atzr|", "access_token"):
        assert secret not in saved
    assert [p.name for p in out_file.parent.iterdir()] == ["plan.json"]  # no temp file left


def test_apply_saved_plan_applies_exactly_it(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run(capsys, "plan", "--sandbox", "--out", str(plan_file), EXAMPLES)[0] == EXIT_OK
    journal = tmp_path / "journal.jsonl"
    code, out, _ = run(
        capsys,
        "apply",
        "--sandbox",
        "--plan",
        str(plan_file),
        "--journal",
        str(journal),
        EXAMPLES,
    )
    assert code == EXIT_OK, out
    assert "9 done (9 verified)" in out and "Converged" in out
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [line["result"] for line in lines] == ["ok"] * 9
    assert journal.stat().st_mode & 0o777 == 0o600
    assert run(capsys, "plan", "--sandbox", "--detailed-exitcode", EXAMPLES)[0] == EXIT_OK


def test_a_stale_saved_plan_is_refused_listing_what_moved(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run(capsys, "plan", "--sandbox", "--out", str(plan_file), EXAMPLES)[0] == EXIT_OK
    # Someone uses the console between plan and apply.
    assert (
        run(
            capsys,
            "sandbox",
            "add-user",
            ACME_AMC,
            "gina@example.com",
            "--role",
            "admin",
            "--user-id",
            "amzn1.account.GINA0001",
        )[0]
        == EXIT_OK
    )
    assert run(capsys, "sandbox", "unlink", ACME_ID, "ENTITY1ACME0007")[0] == EXIT_OK
    before = world(state).snapshot()
    code, _, err = run(capsys, "apply", "--sandbox", "--plan", str(plan_file), EXAMPLES)
    assert code == EXIT_ERROR
    assert "the plan is stale" in err
    assert "user amzn1.account.GINA0001 (g***@example.com, admin) added" in err
    assert "link ENTITY1ACME0007 (NA) removed" in err
    assert world(state).snapshot() == before


def test_a_bad_plan_file_is_an_error_not_a_traceback(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "apply", "--sandbox", "--plan", str(bad), EXAMPLES)
    assert code == EXIT_ERROR and "is not JSON" in err and "Traceback" not in err


# ---- guards ---------------------------------------------------------------------------------

AMC_HEAD = f"version: 1\namcAccounts:\n  - id: {ACME_AMC}\n"


def test_max_removals_guard(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "--sandbox", "--max-removals", "1", EXAMPLES)
    assert code == EXIT_ERROR and "pass --max-removals 2" in out and "refused" in err
    assert (
        run(capsys, "apply", "--sandbox", "--auto-approve", "--max-removals", "1", EXAMPLES)[0]
        == EXIT_ERROR
    )
    assert world(state).stats.writes == 0
    # drift never applies: a drifted world is drift, whatever the guards say of applying it.
    assert run(capsys, "drift", "--sandbox", "--max-removals", "1", EXAMPLES)[0] == EXIT_CHANGES


def test_max_removal_fraction_guard(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only_alice = write(
        tmp_path / "m" / "amc.yaml",
        AMC_HEAD + "    users:\n      - {email: alice@example.com, role: admin}\n",
    )
    code, out, _ = run(capsys, "plan", "--sandbox", only_alice)
    assert code == EXIT_ERROR and "--max-removal-fraction" in out
    assert "4 of 5 live members" in out
    ok = run(capsys, "plan", "--sandbox", "--max-removal-fraction", "0.8", only_alice)
    assert ok[0] == EXIT_OK


def test_fewer_admins_guard(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        capsys,
        "sandbox",
        "add-user",
        ACME_AMC,
        "gina@example.com",
        "--role",
        "admin",
        "--user-id",
        "amzn1.account.GINA0001",
    )
    manifest = write(
        tmp_path / "m" / "amc.yaml",
        AMC_HEAD
        + "    minAdmins: 2\n    prune: false\n    users:\n"
        + "      - {email: alice@example.com, role: admin}\n"
        + "      - {userId: amzn1.account.GINA0001, role: viewer}\n",
    )
    code, out, err = run(capsys, "apply", "--sandbox", "--auto-approve", manifest)
    assert code == EXIT_ERROR and "--allow-fewer-admins" in out and "Nothing was applied" in err
    assert gina_role(state) == "ADMIN"
    code, out, _ = run(
        capsys, "apply", "--sandbox", "--auto-approve", "--allow-fewer-admins", manifest
    )
    assert code == EXIT_OK, out
    assert gina_role(state) == "VIEWER"


def test_unresolved_masked_users_guard(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # anna and alice both show as a***@example.com; the manifest wants them in other roles.
    run(capsys, "sandbox", "add-user", ACME_AMC, "anna@example.com", "--role", "viewer")
    manifest = write(
        tmp_path / "m" / "amc.yaml",
        AMC_HEAD
        + "    prune: false\n    users:\n"
        + "      - {email: alice@example.com, role: viewer}\n"
        + "      - {email: anna@example.com, role: admin}\n",
    )
    code, out, _ = run(capsys, "plan", "--sandbox", manifest)
    assert code == EXIT_ERROR and "--allow-unresolved" in out and "userId" in out
    code, out, _ = run(capsys, "plan", "--sandbox", "--allow-unresolved", manifest)
    assert code == EXIT_OK and "cannot be told apart" in out


def test_incomplete_read_guard(
    sandbox_state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 51 links in one region: GET /managerAccounts shows 50 (reference §2.2), so the read may
    # be truncated and no link may be removed on it.
    accounts = [
        {
            "id": f"ENTITYBIG{i:04}",
            "name": f"B{i}",
            "type": "SELLER",
            "marketplace": "ATVPDKIKX0DER",
        }
        for i in range(51)
    ]
    seed = {
        "accounts": accounts,
        "manager_accounts": [
            {
                "id": "amzn1.ads1.ma1.big",
                "name": "Big",
                "type": "Agency",
                "links": [a["id"] for a in accounts],
            }
        ],
    }
    seed_file = write(tmp_path / "seed.yaml", yaml.safe_dump(seed))
    assert run(capsys, "sandbox", "reset", "--seed", seed_file)[0] == EXIT_OK
    links = "".join(f"      - id: ENTITYBIG{i:04}\n" for i in range(48))
    manifest = write(
        tmp_path / "m" / "big.yaml",
        "version: 1\nmanagerAccounts:\n  - name: Big\n    id: amzn1.ads1.ma1.big\n"
        "    linkedAccounts:\n" + links,
    )
    code, out, _ = run(capsys, "plan", "--sandbox", manifest)
    assert code == EXIT_ERROR and "--allow-incomplete" in out
    # A read that may be incomplete is an error, not drift, for drift too.
    assert run(capsys, "drift", "--sandbox", manifest)[0] == EXIT_ERROR
    code, out, _ = run(capsys, "plan", "--sandbox", "--allow-incomplete", manifest)
    assert code == EXIT_OK and out.startswith("Read incomplete (nothing planned there):")
    assert "Policy (not the defaults):\n  allowIncomplete: true (--allow-incomplete)" in out
    assert "No changes can be made now; not in sync: 1 account(s) not read completely." in out


# ---- outputs --------------------------------------------------------------------------------


def test_markdown_goes_to_the_github_step_summary_masked_on_request(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = run(
        capsys, "plan", "--sandbox", "--format", "markdown", "--mask-emails", EXAMPLES
    )
    assert code == EXIT_OK
    text = summary.read_text()
    assert text.startswith("## reconciler plan") and out in text
    # carol is in the reviewed manifests: shown as written; dave is live only: masked.
    assert "invite carol&#64;example.com as viewer" in text
    assert r"revoke user d\*\*\*&#64;example.com" in text
    code, out, _ = run(capsys, "plan", "--sandbox", "--mask-emails", EXAMPLES)
    assert "invite carol@example.com as viewer" in out and "d***@example.com" in out
    # --max-length cuts what is printed (the comment), never the job summary.
    summary.unlink()
    code, out, _ = run(
        capsys, "plan", "--sandbox", "--format", "markdown", "--max-length", "1000", EXAMPLES
    )
    assert code == EXIT_OK and len(out) <= 1000
    assert "left out: this comment is limited to 1,000 characters" in out
    whole = summary.read_text()
    assert len(whole) > 1000 and "<summary>AMC account ENTITY1AA1AA11AAA1" in whole
    # Said once; the plan file only when one was written, by the path it was written to.
    assert out.count("left out: this comment") == 1 and "reconciler show" not in out
    saved = tmp_path / "saved plan.json"
    code, out, _ = run(
        capsys, "plan", "--sandbox", "--format", "markdown", "--max-length", "1000",
        "--out", str(saved), EXAMPLES,
    )  # fmt: skip
    assert code == EXIT_OK and len(out) <= 1000 and saved.is_file()
    assert out.count("left out: this comment") == 1
    assert f"The whole plan: the plan file (`reconciler show '{saved}'`), " in out


def test_plan_files_and_version_name_the_commit_the_tool_was_built_from(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkout installed in place (as here): git's HEAD of that checkout. An install from
    git+URL@REF reads pip's record of REF's commit; the action writes its pinned sha."""
    repo = Path(reconciler.__file__).resolve().parents[1]
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    expected = f"{reconciler.__version__} (commit {head or 'unknown'})"
    code, out, _ = run(capsys, "--version")
    assert code == EXIT_OK and out == f"reconciler, version {expected}\n"
    out_file = tmp_path / "plan.json"
    run(capsys, "plan", "--sandbox", "--out", str(out_file), EXAMPLES)
    assert json.loads(out_file.read_text())["bindings"]["toolVersion"] == expected
    code, out, _ = run(capsys, "show", str(out_file))
    assert f"by reconciler {expected}" in out


def test_import_then_plan_shows_no_changes_and_import_refuses_to_overwrite(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "imported"
    code, out, _ = run(capsys, "import", "--sandbox", "--out", str(out_dir))
    assert code == EXIT_OK and "wrote" in out
    assert run(capsys, "validate", str(out_dir))[0] == EXIT_OK
    assert run(capsys, "plan", "--sandbox", "--detailed-exitcode", str(out_dir))[0] == EXIT_OK
    code, _, err = run(capsys, "import", "--sandbox", "--out", str(out_dir))
    assert code == EXIT_ERROR and "--force" in err
    assert run(capsys, "import", "--sandbox", "--out", str(out_dir), "--force")[0] == EXIT_OK


def test_usage_errors_exit_64(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "plan", "--sandbox")[0] == EXIT_USAGE
    assert run(capsys, "apply", "--sandbox", "--auto-approve")[0] == EXIT_USAGE
    assert run(capsys, "plan", "--format", "yaml", EXAMPLES)[0] == EXIT_USAGE
    assert run(capsys, "import", "--sandbox")[0] == EXIT_USAGE


# ---- the apply lock --------------------------------------------------------------------------


def sandbox_lock(state: Path) -> Path:
    """The apply lock `apply --sandbox` takes for this state file (keyed like a host)."""
    return lock_path(SANDBOX_CLIENT_ID, [f"sandbox:{state.resolve()}"], env=os.environ)


def has_dave(state: Path) -> bool:
    """The demo apply revokes Dave: still there means nothing was applied yet."""
    return world(state).amc[ACME_AMC].user("amzn1.account.DAVE0001") is not None


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path


def test_apply_with_lock_timeout_0_fails_at_once_while_another_apply_runs(
    state: Path, runtime_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = sandbox_lock(state)
    assert lock.parent == runtime_dir
    with hold(lock, timeout_s=0):
        code, out, err = run(
            capsys, "apply", "--sandbox", "--auto-approve", "--lock-timeout", "0", EXAMPLES
        )
        assert code == EXIT_ERROR and out == ""
        assert err == (
            "Error: another apply is running against the same Amazon Ads "
            f"account (lock {lock} is held now). Wait for it to finish, or wait longer with "
            "--lock-timeout (e.g. --lock-timeout 15m). --no-lock skips the lock: use it only "
            "when no other apply can run at the same time.\n"
        )
        assert has_dave(state)  # it read nothing and changed nothing
        # --no-lock does not ask (another machine's apply would not see this lock anyway).
        code, out, _ = run(capsys, "apply", "--sandbox", "--auto-approve", "--no-lock", EXAMPLES)
        assert code == EXIT_OK and "Converged" in out
    assert run(capsys, "apply", "--sandbox", "--lock-timeout", "0", EXAMPLES)[0] == EXIT_OK


def test_a_bad_lock_timeout_is_a_usage_error(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "apply", "--sandbox", "--lock-timeout", "soon", EXAMPLES)
    assert code == EXIT_USAGE and "--lock-timeout 'soon'" in err


def test_a_second_apply_waits_for_the_first_then_plans_what_it_left(
    state: Path, runtime_dir: Path
) -> None:
    """A real second process: it says it waits, touches nothing while the lock is held, and
    afterwards plans from the state the first apply left (here: the demo's changes)."""
    command = [sys.executable, "-m", "reconciler", "apply", "--sandbox", "--auto-approve"]
    with hold(sandbox_lock(state), timeout_s=0):
        second = subprocess.Popen(
            [*command, "--no-progress", EXAMPLES],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        assert second.stderr is not None
        first_line = second.stderr.readline()  # blocks until it waits (or fails)
        assert first_line.startswith("waiting for another apply to finish (lock "), first_line
        assert second.poll() is None and has_dave(state)
    out, err = second.communicate(timeout=120)
    assert second.returncode == EXIT_OK, out + err
    assert "Converged" in out and not has_dave(state)


def _big_manager(manager_id: str) -> dict[str, Any]:
    """A manager account with 50 links: Amazon may have truncated the list (reference §2.2),
    so the read is incomplete."""
    accounts = [
        {"id": f"ENTITYUS{n:04d}", "name": f"US {n}", "type": "SELLER",
         "marketplace": "ATVPDKIKX0DER"}
        for n in range(50)
    ]  # fmt: skip
    seed = {
        "accounts": accounts,
        "manager_accounts": [
            {"id": manager_id, "name": "Big", "type": "Agency",
             "links": [a["id"] for a in accounts]}
        ],
    }  # fmt: skip
    return seed


def test_an_import_whose_read_was_incomplete_says_so_and_fails(
    sandbox_state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    World.from_seed(_big_manager("amzn1.ads1.ma1.big")).save(sandbox_state_file)
    out_dir = tmp_path / "imported"
    code, out, err = run(capsys, "import", "--sandbox", "--out", str(out_dir))
    assert code == EXIT_ERROR
    assert "wrote" in out and "it should show no changes" not in out
    assert "the live read was incomplete" in err
    assert "manager:amzn1.ads1.ma1.big" in err and "--force" in err
    manager = yaml.safe_load((out_dir / "managers" / "big.yaml").read_text())
    assert manager["managerAccounts"][0]["prune"] is False


def test_an_import_never_echoes_a_manager_id_that_is_not_an_account_id(
    sandbox_state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An id from the API is data: one that could not be sent back as a header (terminal
    controls here) names no account, so it is neither read nor shown, and the import,
    which cannot tell which manager accounts there are, writes nothing."""
    hostile = "amzn1.ads1.ma1.big\x1b]0;owned\x07\x1b[2J"
    World.from_seed(_big_manager(hostile)).save(sandbox_state_file)
    out_dir = tmp_path / "imported"
    code, out, err = run(capsys, "import", "--sandbox", "--out", str(out_dir))
    assert (code, out) == (EXIT_ERROR, "")
    assert "\x1b" not in err and "\x07" not in err
    assert (
        "manager:*: GET /managerAccounts on the NA host listed a manager account whose id "
        "is not an account id" in err
    )
    assert not out_dir.exists() or not any(out_dir.iterdir())


@pytest.mark.parametrize(
    ("written", "shown"),
    [("3d3c42e5aac5ba805825da76410c181273ba90b1\n", "3d3c42e5aac5ba805825da76410c181273ba90b1"),
     ("v0.2.0\n", "unknown"),  # a tag is not a commit: not believed
     ("", "unknown")],
)  # fmt: skip
def test_a_build_commit_file_names_the_commit_where_git_cannot(
    tmp_path: Path, written: str, shown: str
) -> None:
    """The GitHub Action's copy has no .git: its install step writes the sha the action is
    pinned at into reconciler/BUILD_COMMIT, which the package data ships."""
    package = Path(reconciler.__file__).resolve().parent
    copy = tmp_path / "site" / "reconciler"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "BUILD_COMMIT"))
    if written:
        (copy / "BUILD_COMMIT").write_text(written, encoding="ascii")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import reconciler; print(reconciler.__file__, reconciler.version_line())",
        ],
        env={**os.environ, "PYTHONPATH": str(copy.parent)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    where, line = done.stdout.split(" ", 1)
    assert Path(where).parent == copy
    # Without the file, pip's record of an editable install (here) names no commit either.
    assert line.strip() == f"{reconciler.__version__} (commit {shown})"
    pyproject = (package.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"BUILD_COMMIT"' in pyproject


def test_drift_exits_2_for_a_drifted_world_even_when_applying_it_would_be_refused(
    team: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Five of seven added in the console: putting it back is a mass removal the guards
    refuse to apply, but drift never applies. The world drifted: exit 2, the refusal said."""
    m = team_manifests(tmp_path, PEOPLE[:2])
    code, out, err = run(capsys, "drift", "--sandbox", m)
    assert code == EXIT_CHANGES, (out, err)
    assert "REFUSED by 1 guard" in out and "Drift: 5 changed behind git's back" in out
    assert err == (
        "drift: applying this would be refused by 1 guard (listed on top of the plan); the "
        "drift is listed all the same.\n"
    )
    code, _, _ = run(capsys, "plan", "--sandbox", "--detailed-exitcode", m)
    assert code == EXIT_ERROR  # plan is about applying: refused


# --- a sandbox served over HTTP (`reconciler sandbox serve`): whose clock decides -----------

AGENCY = ("amzn1.application-oa2-client.agency", "agency-secret", "Atzr|agency-refresh")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Endpoints, str]]:
    """A served sandbox whose clock stands at this machine's day, with Ann's viewer grant
    on the account and a manifest that ends it 10 days from now; and a second client
    (`AGENCY`), which is not the sandbox's public one."""
    today = float(int(time.time() // DAY) * DAY)
    seed = {
        "clock": {"frozen_at": today},
        "clients": [
            dict(zip(("client_id", "client_secret", "refresh_token"), AGENCY, strict=True))
        ],
        "amc_accounts": [{"id": AMC, "name": "Who AMC", "users": [A_BOSS, A_ANN]}],
    }
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed), encoding="utf-8")
    ends = datetime.fromtimestamp(today + 10 * DAY, UTC).strftime("%Y-%m-%d")
    manifests = write(tmp_path / "m" / "amc.yaml", amc_doc([BOSS, {**ANN, "expires": ends}]))
    server = SandboxServer(
        World.from_seed_file(tmp_path / "seed.yaml"), host="127.0.0.1", port=0, verbose=True
    )
    endpoints = server.start()
    try:
        yield endpoints, manifests
    finally:
        server.stop()


def _point_at(
    monkeypatch: pytest.MonkeyPatch, endpoints: Endpoints, credentials: tuple[str, str, str]
) -> None:
    for key, value in zip(("ID", "SECRET"), credentials[:2], strict=True):
        monkeypatch.setenv(f"AMAZON_ADS_CLIENT_{key}", value)
    monkeypatch.setenv("AMAZON_ADS_REFRESH_TOKEN", credentials[2])
    monkeypatch.setenv("AMAZON_ADS_TOKEN_URL", endpoints.token_url)
    for region, url in endpoints.api_urls.items():
        monkeypatch.setenv(f"AMAZON_ADS_API_URL_{region.value}", url)


def _advance_30_days(capsys: pytest.CaptureFixture[str], endpoints: Endpoints) -> None:
    url = next(iter(endpoints.api_urls.values()))
    assert run(capsys, "sandbox", "advance-clock", "30d", "--url", url)[:2] == (
        EXIT_OK,
        "clock advanced by 2.592e+06 s\n",
    )


def test_plan_against_a_served_sandbox_goes_by_its_clock(
    served: tuple[Endpoints, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoints, manifests = served
    _point_at(
        monkeypatch, endpoints, (SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN)
    )
    code, out, err = run(capsys, "plan", "--detailed-exitcode", manifests)
    assert code == EXIT_OK, out + err
    assert "GET /_sandbox/clock" in err  # the sandbox's log: its clock was asked
    _advance_30_days(capsys, endpoints)
    code, out, err = run(capsys, "plan", "--detailed-exitcode", manifests)
    assert code == EXIT_CHANGES, out + err
    assert "revoke user a***@corp.example (amzn1.account.ANN, viewer)" in out
    assert "expired on " in out
    code, out, err = run(
        capsys, "adopt", "--expiring", "--expiring-within", "0", "--diff", manifests
    )
    assert code == EXIT_CHANGES, out + err
    assert "-  - email: ann@corp.example\n" in out


def test_a_client_that_is_not_the_sandboxs_own_keeps_this_machines_clock(
    served: tuple[Endpoints, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same served world, its clock 30 days ahead, reached with credentials that are not
    the sandbox's public ones: that is any API as far as reconciler can prove, so its clock
    is never asked and nothing expires by it."""
    endpoints, manifests = served
    _point_at(monkeypatch, endpoints, AGENCY)
    _advance_30_days(capsys, endpoints)
    code, out, err = run(capsys, "plan", "--detailed-exitcode", manifests)
    assert code == EXIT_OK, out + err
    assert "expired" not in out
    assert "/_sandbox/clock" not in err
    assert "GET /amc/accounts" in err  # the same sandbox answered the reads
    code, out, err = run(
        capsys, "adopt", "--expiring", "--expiring-within", "0", "--diff", manifests
    )
    assert (code, out) == (EXIT_OK, ""), out + err
    assert "/_sandbox/clock" not in err
