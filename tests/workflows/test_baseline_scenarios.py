"""Issue #15, `--baseline REF`, through the CLI against the sandbox and a real git repository:
a console change (live moved away from what REF applied) is `changed`, a manifest change
not applied yet is `unapplied`, and without a baseline neither is claimed (`differs`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from tests.driver import (
    AMC,
    ANN,
    BOSS,
    CHANGED,
    CY,
    SEED,
    UNAPPLIED,
    commit,
    console_role,
    drift,
    git,
    line_of,
    run,
    seed_state,
)

DIFFERS = "[changed behind git's back or not applied yet]"


def test_a_console_change_after_the_applied_commit_is_changed(
    repo: Path, applied: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, a = applied
    console_role(capsys, state, "ann", "admin")
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {CHANGED} amc:{AMC}: set role")
    assert f"Drift by class (against baseline {a[:12]}):" in out
    assert "Drift: 1 changed behind git's back." in out
    # A branch name works as well as a sha, and says both.
    code, out = drift(capsys, state, repo, "--baseline", "main")
    assert f"Drift by class (against baseline main at {a[:12]}):" in out


def test_without_a_baseline_neither_is_claimed(
    repo: Path, applied: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, _ = applied
    console_role(capsys, state, "ann", "admin")
    code, out = drift(capsys, state, repo)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {DIFFERS} ")
    assert CHANGED not in out and UNAPPLIED not in out
    assert "`--baseline REF` (REF: the commit of the last successful apply) tells which" in out


def test_a_manifest_change_not_applied_is_unapplied_and_both_on_one_target_is_changed(
    repo: Path, applied: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, a = applied
    console_role(capsys, state, "ann", "admin")
    # B: cy becomes admin, dee is invited, ann (made admin in the console) is removed.
    commit(
        repo,
        [BOSS, {**CY, "role": "admin"}, {"email": "Dee@Corp.example", "role": "viewer"}],
        "B",
    )
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.CY").startswith(f"  {UNAPPLIED} ")
    assert line_of(out, "invite Dee@Corp.example").startswith(f"  {UNAPPLIED} ")
    # A removed ann; the console had changed her too: live differs from what A applied.
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {CHANGED} ")
    assert "revoke user" in line_of(out, "amzn1.account.ANN")
    assert "Drift: 1 changed behind git's back, 2 not applied yet." in out
    # A commit that was never applied is no baseline: against B itself every change looks
    # like a console change. REF must be the last successful apply (README).
    code, out = drift(capsys, state, repo, "--baseline", "HEAD")
    assert "Drift: 3 changed behind git's back." in out


def test_a_path_absent_at_the_baseline_contributes_nothing(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    (repo / "README").write_text("access\n", encoding="utf-8")
    git(repo, "add", "README")
    git(repo, "commit", "--quiet", "-m", "before any manifest")
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, [BOSS, {**ANN, "role": "admin"}, CY], "manifests")
    code, out = drift(capsys, state, repo, "--baseline", first)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {UNAPPLIED} ")


def test_paths_are_taken_relative_to_the_repository_top_level(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, a = applied
    console_role(capsys, state, "cy", "admin")
    (repo / "docs").mkdir()
    monkeypatch.chdir(repo / "docs")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, "../m")
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.CY").startswith(f"  {CHANGED} ")
    monkeypatch.chdir(repo)
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, "m/amc.yaml")
    assert line_of(out, "amzn1.account.CY").startswith(f"  {CHANGED} ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--baseline", "no-such-ref"], "Error: --baseline 'no-such-ref': is not a commit in "),
        (["--baseline=-x"], "Error: --baseline '-x': looks like an option, not a git revision"),
        (["--baseline", "--output=/tmp/x"], "looks like an option, not a git revision"),
        (["--baseline", ""], "Error: --baseline '': is empty"),
        (["--baseline", "HEAD~5"], "is not a commit in "),
    ],
)
def test_a_bad_ref_is_a_one_line_error_naming_it_and_the_fix(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    state, _ = applied
    code, out = drift(capsys, state, repo, *argv)
    assert code == EXIT_ERROR, out
    assert message in out
    (line,) = out.strip().splitlines()  # one line, no traceback
    assert "pass the commit of the last successful apply" in line


def test_not_a_git_repository_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    state = seed_state(tmp_path, capsys, SEED)
    folder = tmp_path / "plain" / "m"
    folder.mkdir(parents=True)
    doc = {"version": 1, "amcAccounts": [{"id": AMC, "users": [BOSS, ANN, CY]}]}
    (folder / "amc.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", "HEAD", str(folder))
    assert code == EXIT_ERROR, out
    assert f"Error: --baseline 'HEAD': {folder} is not in a git repository" in out
    assert "or leave out --baseline" in out and len(out.strip().splitlines()) == 1


def test_manifests_that_do_not_load_at_the_baseline_are_an_error(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    (repo / "m").mkdir()
    (repo / "m" / "amc.yaml").write_text("version: 2\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "broken")
    broken = git(repo, "rev-parse", "HEAD")
    commit(repo, [BOSS, ANN, CY], "fixed")
    code, out = drift(capsys, state, repo, "--baseline", broken)
    assert code == EXIT_ERROR, out
    assert (
        f"Error: --baseline '{broken}': the manifests at {broken[:12]} do not load "
        "(m/amc.yaml:1:10: " in out
    )
    assert "pass the commit of the last successful apply, whose manifests were valid" in out
    assert "reconciler-baseline-" not in out  # no temporary path leaks
    assert len(out.strip().splitlines()) == 1


def test_apply_has_no_baseline(
    repo: Path, applied: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, a = applied
    code, out = run(capsys, "apply", "--sandbox-state", state, "--baseline", a, str(repo / "m"))
    assert code == 64 and "No such option '--baseline'" in out


def test_a_plan_file_with_a_baseline_shows_applies_and_refuses_tampering(
    repo: Path,
    applied: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = applied
    console_role(capsys, state, "ann", "admin")
    commit(repo, [BOSS, ANN, {**CY, "role": "admin"}], "B")
    plan_file = tmp_path / "plan.json"
    code, out = run(
        capsys, "plan", "--sandbox-state", state, "--baseline", a, "--out", str(plan_file),
        str(repo / "m"),
    )  # fmt: skip
    assert code == EXIT_OK, out
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    assert data["baseline"] == {
        "ref": a,
        "commit": a,
        "alsoInBaseline": [{"scope": f"amc:{AMC}", "target": "user:amzn1.account.ANN"}],
        "heldBackInBaseline": [],
        "noLongerManaged": [],
        "policyChanges": [],
    }
    classes = {item["class"] for item in data["drift"]}
    assert classes == {"changed", "unapplied"}
    for fmt, expected in (
        ("text", f"{CHANGED} amc:{AMC}: set role of"),
        ("markdown", f"Against baseline {a[:12]}."),
        ("json", '"class": "unapplied"'),
    ):
        code, out = run(capsys, "show", "--format", fmt, str(plan_file))
        assert code == EXIT_OK, out
        assert expected in out
    # The baseline is not part of what runs: the saved plan applies as any other.
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(plan_file), str(repo / "m")
    )
    assert code == EXIT_OK, out
    assert "is the plan of these manifests now" in out
    # A console change passed off as not applied yet (or the reverse) is refused.
    for tamper in ("unapplied", "changed", "differs"):
        edited = json.loads(json.dumps(data))
        for item in edited["drift"]:
            if item["class"] in ("changed", "unapplied"):
                item["class"] = tamper
        bad = tmp_path / f"{tamper}.json"
        bad.write_text(json.dumps(edited), encoding="utf-8")
        code, out = run(capsys, "show", str(bad))
        assert code == EXIT_ERROR, (tamper, out)
        assert "the drift classes do not match" in out
    # A baseline key naming no action of the plan is refused too.
    edited = json.loads(json.dumps(data))
    edited["baseline"]["alsoInBaseline"].append({"scope": f"amc:{AMC}", "target": "user:x"})
    bad = tmp_path / "key.json"
    bad.write_text(json.dumps(edited), encoding="utf-8")
    code, out = run(capsys, "show", str(bad))
    assert code == EXIT_ERROR and f"baseline: amc:{AMC} user:x is not the target" in out


def test_a_symlink_at_the_baseline_is_refused_never_followed(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    secret = tmp_path / "secret.yaml"
    secret.write_text("version: 1\n# not the manifests'\n", encoding="utf-8")
    (repo / "m").mkdir()
    (repo / "m" / "amc.yaml").symlink_to(secret)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "a link out")
    linked = git(repo, "rev-parse", "HEAD")
    (repo / "m" / "amc.yaml").unlink()
    commit(repo, [BOSS, ANN, CY], "manifests")
    code, out = drift(capsys, state, repo, "--baseline", linked)
    assert code == EXIT_ERROR, out
    # No link at REF is followed (one inside the repository could still lead out through
    # another): refused, never read, naming the link.
    assert f"m/amc.yaml is a symbolic link at {linked[:12]}: --baseline reads only" in out
    assert "not the manifests" not in out


# --- what leaves management, and what the policy loosened, since REF ----------------------

OTHER = "ENTITYWHO0000002"


def commit_text(repo: Path, text: str, message: str) -> str:
    folder = repo / "m"
    folder.mkdir(exist_ok=True)
    (folder / "amc.yaml").write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def two_accounts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    people = [
        {"email": f"{n}@corp.example", "user_id": f"amzn1.account.{n.upper()}", "role": r}
        for n, r in (("boss", "ADMIN"), ("ann", "VIEWER"), ("cy", "VIEWER"))
    ]
    seed = tmp_path / "seed2.yaml"
    seed.write_text(
        yaml.safe_dump(
            {"amc_accounts": [{"id": AMC, "users": people}, {"id": OTHER, "users": people}]}
        ),
        encoding="utf-8",
    )
    state = str(tmp_path / "state2.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed))[0] == EXIT_OK
    )
    return state


def account_block(account: str, extra: str = "") -> str:
    return (
        f"  - id: {account}\n{extra}    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
        "      - {email: cy@corp.example, userId: amzn1.account.CY, role: viewer}\n"
    )


def test_an_account_deleted_from_the_manifests_is_no_longer_managed_drift(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = two_accounts(tmp_path, capsys)
    head = "version: 1\namcAccounts:\n"
    a = commit_text(repo, head + account_block(AMC) + account_block(OTHER), "A: both")
    assert drift(capsys, state, repo)[0] == EXIT_OK
    commit_text(repo, head + account_block(AMC), "B: the other account's block deleted")
    assert drift(capsys, state, repo)[0] == EXIT_OK  # nothing can say so without REF
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert line_of(out, OTHER) == (
        f"  [no longer managed] amc:{OTHER}: no longer managed: 3 people keep access (3 "
        f"users, 0 invited); managed at {a[:12]} (m/amc.yaml:8), nothing watches it any "
        "more: list it again in the manifests, or remove its people in the console"
    )
    assert "Drift: 1 no longer managed." in out
    code, js = run(
        capsys, "plan", "--sandbox-state", state, "--baseline", a, "--format", "json",
        str(repo / "m"),
    )  # fmt: skip
    assert code == EXIT_OK
    (gone,) = json.loads(js)["baseline"]["noLongerManaged"]
    assert gone["scope"] == f"amc:{OTHER}"


def test_the_policy_is_shown_with_its_provenance_and_loosenings_are_marked(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = two_accounts(tmp_path, capsys)
    policy = (
        "version: 1\npolicy:\n  allowedEmailDomains: [corp.example]\n  maxRemovals: 5\n"
        "  protectedUsers: [amzn1.account.BOSS]\namcAccounts:\n"
    )
    a = commit_text(repo, policy + account_block(AMC), "A")
    looser = policy.replace("maxRemovals: 5", "maxRemovals: 50").replace(
        "  protectedUsers: [amzn1.account.BOSS]\n", ""
    )
    own = "    policy:\n      allowedEmailDomains: [evil.example]\n"
    commit_text(repo, looser + account_block(AMC, own), "B: looser")
    m = str(repo / "m")
    code, out = run(capsys, "plan", "--sandbox-state", state, m)
    assert code == EXIT_OK, out
    assert f"  amc:{AMC}: allowedEmailDomains adds evil.example (m/amc.yaml:7)" in out.replace(
        f"{repo}/", ""
    )
    code, out = run(capsys, "plan", "--sandbox-state", state, "--baseline", a, m)
    assert code == EXIT_OK, out
    shown = out.replace(f"{repo}/", "")
    assert "Policy changed since the baseline (LOOSENED: a loosening):" in shown
    assert f"  ! LOOSENED: amc:{AMC}: allowedEmailDomains adds evil.example (m/amc.yaml:7)" in (
        shown
    )
    assert "  ! LOOSENED: maxRemovals raised from 5 to 50 (m/amc.yaml:4)" in shown
    assert "  ! LOOSENED: protectedUsers no longer protects amzn1.account.BOSS" in shown


def test_every_loosening_of_the_policy_is_marked() -> None:
    from reconciler.model import Desired, DesiredPolicy, Source
    from reconciler.workflows.baseline import policy_changes

    then = Desired(
        policy=DesiredPolicy(
            max_removals=5,
            allowed_email_domains=("corp.example",),
            admin_groups=("admins",),
            protected_users=("amzn1.account.GLASS",),
            admin_members=frozenset({"a@corp.example"}),
            sources={"maxRemovals": Source("/tmp/private/m/p.yaml", 3)},
        )
    )
    now = Desired(
        policy=DesiredPolicy(
            max_removals=3,
            admin_groups=("admins", "ops"),
            admin_members=frozenset({"a@corp.example", "o@corp.example"}),
            sources={"maxRemovals": Source("m/p.yaml", 3), "adminGroups": Source("m/p.yaml", 4)},
        )
    )
    assert policy_changes(then, now) == (
        "LOOSENED: allowedEmailDomains removed: any is allowed now",
        "LOOSENED: adminGroups adds ops (m/p.yaml:4)",
        "LOOSENED: the admin groups gain o@corp.example (m/p.yaml:4)",
        "LOOSENED: protectedUsers no longer protects amzn1.account.GLASS",
        "maxRemovals lowered from 5 to 3 (m/p.yaml:3)",
    )
