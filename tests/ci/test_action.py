"""The GitHub Action's shell steps, run with bash against the sandbox and a recorded
pull_request event (tests/ci/pull_request.json): exit codes, outputs, the PR comment."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.sandbox import World
from tests.ci.steps import REPO, ActionRunner, run_workflow_step

EXAMPLES = REPO / "examples" / "manifests"


def _has_show() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "show", "--help"], capture_output=True, check=False
    )
    return done.returncode == 0


# Plan digests come with `reconciler show` (the plan-file branch); these
# assertions start running once that lands.
needs_plan_digest = pytest.mark.skipif(
    not _has_show(), reason="this reconciler has no `show` / planDigest yet (plan-file branch)"
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "manifests")
    World.default().save(tmp_path / "sandbox.json")
    return tmp_path


def _runner(workdir: Path, env: dict[str, str] | None = None, **inputs: str) -> ActionRunner:
    return ActionRunner(workdir, inputs={"args": "--sandbox", **inputs}, env=env or {})


def test_plan_with_changes_passes_and_keeps_the_plan(workdir: Path) -> None:
    runner = _runner(workdir, command="plan")
    done = runner.run("run")
    assert done.code == 0, done.log
    assert done.outputs["exit-code"] == "2"
    assert "changes planned" in done.stdout
    plan = json.loads((workdir / "plan.json").read_text(encoding="utf-8"))
    assert plan["actions"]
    assert (workdir / "plan.json.digest").exists()
    # The markdown the comment step posts, and the job summary reconciler wrote itself.
    assert (runner.temp / "reconciler" / "plan.md").read_text(encoding="utf-8").strip()
    assert (workdir / "step-summary.md").read_text(encoding="utf-8").strip()
    assert "carol@example.com" not in (runner.temp / "reconciler" / "plan.md").read_text()
    assert "&#64;example.com" in (runner.temp / "reconciler" / "plan.md").read_text()  # masked


def test_plan_without_changes_passes_with_exit_0(workdir: Path) -> None:
    first = _runner(workdir, command="plan")
    assert first.run("run").code == 0
    apply = _runner(workdir, command="apply").run("run")
    assert apply.code == 0, apply.log
    assert apply.outputs["exit-code"] == "0"
    assert (workdir / "journal.jsonl").read_text(encoding="utf-8").count("\n") >= 1
    again = _runner(workdir, command="plan").run("run")
    assert again.code == 0, again.log
    assert again.outputs["exit-code"] == "0"
    assert "no changes" in again.stdout


@pytest.mark.parametrize(
    ("inputs", "code", "why"),
    [
        ({"paths": "missing-folder"}, "1", "an error, or refused"),
        ({"args": "--sandbox --no-such-flag"}, "64", "usage error: check the action's paths"),
        ({"args": "--sandbox --max-removals -3"}, "64", "usage error"),
    ],
)
def test_plan_fails_on_anything_but_0_and_2_and_says_why(
    workdir: Path, inputs: dict[str, str], code: str, why: str
) -> None:
    done = ActionRunner(workdir, inputs={"command": "plan", **inputs}, env={}).run("run")
    assert done.code == 1
    assert done.outputs["exit-code"] == code
    assert f"::error title=reconciler plan failed (exit {code})::" in done.stdout
    assert why in done.stdout


def test_a_refused_plan_is_posted_then_fails_the_job(workdir: Path) -> None:
    """Issue #12: the pull request shows who would lose access exactly when a guard refuses."""
    runner = _runner(workdir, command="plan", args="--sandbox --max-removals 0")
    done = runner.run("run")
    assert done.code == 0, done.log  # the steps after it still run: the comment
    assert done.outputs["exit-code"] == "1" and done.outputs["refused"] == "true"
    assert "::error title=reconciler plan refused::" in done.stdout
    plan_md = (runner.temp / "reconciler" / "plan.md").read_text(encoding="utf-8")
    assert "REFUSED by 1 guard" in plan_md and "revoke" in plan_md
    assert runner.run("comment").code == 0
    failed = runner.run("refused")
    assert failed.code == 1 and "refused by a guard" in failed.stdout


def test_drift_fails_when_drifted_unless_told_not_to(workdir: Path) -> None:
    drifted = _runner(workdir, command="drift").run("run")
    assert drifted.code == 1
    assert drifted.outputs["exit-code"] == "2"
    assert "live state drifted from the manifests" in drifted.stdout
    tolerated = _runner(workdir, command="drift", **{"fail-on-drift": "false"}).run("run")
    assert tolerated.code == 0, tolerated.log
    assert tolerated.outputs["exit-code"] == "2"


def test_validate_annotates_and_fails(workdir: Path) -> None:
    (workdir / "manifests" / "bad.yaml").write_text("version: 2\n", encoding="utf-8")
    done = ActionRunner(workdir, inputs={"command": "validate"}, env={}).run("run")
    assert done.code == 1
    assert "::error file=manifests/bad.yaml,line=1,col=10::" in done.log
    assert "::error title=reconciler validate failed (exit 1)::" in done.stdout


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("git") is None, reason="needs jq and git"
)
def test_adopt_opens_one_pull_request_then_updates_it(workdir: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "--quiet", "--bare", str(origin))
    _git(workdir, "init", "--quiet", "-b", "main")
    _git(workdir, "config", "user.email", "t@example.com")
    _git(workdir, "config", "user.name", "t")
    _git(workdir, "add", "manifests")
    _git(workdir, "commit", "--quiet", "-m", "manifests")
    _git(workdir, "remote", "add", "origin", str(origin))
    state = tmp_path / "github.json"
    env = {"GITHUB_TOKEN": "fake-token", "FAKE_GH_STATE": str(state)}
    runner = _runner(workdir, env=env, command="adopt")
    runner.env["PATH"] = f"{_fake_gh(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    done = runner.run("run")
    assert done.code == 0, done.log
    assert done.outputs["exit-code"] == "2"
    assert "@example.com" not in done.log  # who changed goes to the pull request only
    opened = runner.run("pull-request")
    assert opened.code == 0, opened.log
    assert "opened a pull request from reconciler/adopt into main" in opened.stdout
    assert "reconciler: adopt" in _git(origin, "log", "-1", "--format=%s", "reconciler/adopt")
    # The next night, from main again: the same pull request is updated, not a second one.
    _git(workdir, "checkout", "--quiet", "main")
    _git(workdir, "reset", "--quiet", "--hard", "main")
    assert runner.run("run").outputs["exit-code"] == "2"
    again = runner.run("pull-request")
    assert again.code == 0, again.log
    assert "updated pull request #100 from reconciler/adopt" in again.stdout
    [pr] = json.loads(state.read_text())["prs"]
    assert pr["head"] == "reconciler/adopt" and "close it and run apply" in pr["body"]


def test_expiring_with_nothing_soon_changes_nothing(workdir: Path) -> None:
    done = _runner(workdir, command="expiring").run("run")
    assert done.code == 0, done.log
    assert done.outputs["exit-code"] == "0"
    assert "nothing to change" in done.stdout


def test_comment_step_says_so_when_there_is_no_token(workdir: Path) -> None:
    runner = _runner(workdir, command="plan")
    assert runner.run("run").code == 0
    done = runner.run("comment")
    assert done.code == 0, done.log
    assert "no github-token: the plan is not posted on PR #42" in done.stdout


@pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh filters with jq")
def test_comment_is_created_once_then_updated(workdir: Path, tmp_path: Path) -> None:
    state = tmp_path / "github.json"
    env = {"GITHUB_TOKEN": "fake-token", "FAKE_GH_STATE": str(state)}
    runner = _runner(workdir, env=env, command="plan")
    runner.env["PATH"] = f"{_fake_gh(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    assert runner.run("run").code == 0
    first = runner.run("comment")
    assert first.code == 0, first.log
    assert "posted the plan as a comment on PR #42" in first.stdout
    # Someone else comments; then a push re-plans: the same comment is updated.
    held = json.loads(state.read_text())
    held["comments"].append({"id": 7, "issue": 42, "body": "LGTM"})
    state.write_text(json.dumps(held))
    _runner(workdir, command="apply").run("run")
    assert runner.run("run").code == 0
    second = runner.run("comment")
    assert second.code == 0, second.log
    assert "updated the plan comment 1000 on PR #42" in second.stdout
    comments = json.loads(state.read_text())["comments"]
    assert [c["id"] for c in comments] == [1000, 7]
    assert comments[0]["body"].startswith("<!-- reconciler-plan -->\n")
    assert "No changes" in comments[0]["body"]


@needs_plan_digest
def test_plan_digest_output_is_the_plan_files(workdir: Path) -> None:
    done = _runner(workdir, command="plan").run("run")
    assert done.code == 0, done.log
    plan = json.loads((workdir / "plan.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", done.outputs["plan-digest"])
    assert done.outputs["plan-digest"] == plan["planDigest"]
    assert (workdir / "plan.json.digest").read_text().strip() == plan["planDigest"]
    assert f"Plan digest: {plan['planDigest']}" in (
        ActionRunner(workdir, inputs={}, env={}).temp / "reconciler" / "plan.md"
    ).read_text(encoding="utf-8")


def test_apply_uses_a_plan_file_present_and_needs_a_token_otherwise(workdir: Path) -> None:
    runner = _runner(workdir, command="apply")
    missing = runner.run("fetch-plan")
    assert missing.code == 1
    assert "no plan file plan.json and no github-token to fetch the reviewed one" in missing.stdout
    assert _runner(workdir, command="plan").run("run").code == 0
    present = runner.run("fetch-plan")
    assert present.code == 0, present.log
    assert "using the plan file plan.json already present" in present.stdout


@pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh filters with jq")
def test_apply_fetches_the_merged_pull_requests_plan(workdir: Path, tmp_path: Path) -> None:
    assert _runner(workdir, command="plan").run("run").code == 0
    reviewed = (workdir / "plan.json").read_text(encoding="utf-8")
    (workdir / "plan.json").unlink()  # apply runs on a fresh runner
    merge_sha, head_sha = "a1b2c3", "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    state = tmp_path / "github.json"
    plan_run = {"event": "pull_request", "status": "success", "head_sha": head_sha}
    state.write_text(
        json.dumps(
            {
                "comments": [],
                "pulls": [
                    {"number": 41, "merged_at": None, "commits": [merge_sha]},
                    {"number": 42, "merged_at": "2026-01-02T03:04:05Z", "commits": [merge_sha],
                     "head": {"sha": head_sha}},
                ],
                "runs": [
                    {"id": 301, "name": "lint", **plan_run, "artifacts": {}},
                    {"id": 302, "name": "reconciler", **plan_run,
                     "artifacts": {"reconciler-plan": {"plan.json": reviewed}}},
                ],
            }
        )
    )  # fmt: skip
    env = {
        "GITHUB_TOKEN": "fake-token",
        "FAKE_GH_STATE": str(state),
        "GITHUB_SHA": merge_sha,
        "GITHUB_WORKFLOW": "reconciler",
        "GITHUB_EVENT_NAME": "push",
    }
    runner = _runner(workdir, env=env, command="apply")
    runner.env["PATH"] = f"{_fake_gh(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    fetched = runner.run("fetch-plan")
    assert fetched.code == 0, fetched.log
    assert "fetched the plan of PR #42 from run 302" in fetched.stdout
    applied = runner.run("run")
    assert applied.code == 0, applied.log
    assert applied.outputs["exit-code"] == "0"


ACME = "ENTITY1AA1AA11AAA1"


def _commit(workdir: Path, message: str) -> str:
    _git(workdir, "add", "-A", "manifests")
    _git(workdir, "-c", "user.name=t", "-c", "user.email=t@x", "-c", "commit.gpgsign=false",
         "commit", "--quiet", "-m", message)  # fmt: skip
    return _git(workdir, "rev-parse", "HEAD").strip()


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("git") is None, reason="needs jq and git"
)
def test_nightly_drift_against_the_last_successful_apply(workdir: Path, tmp_path: Path) -> None:
    """Issue #15: the example's drift job finds the head of the last successful apply run
    with `gh run list` and passes it as `baseline:`: a console change is told from a merged
    change not applied yet."""
    _git(workdir, "init", "--quiet", "-b", "main")
    applied = _commit(workdir, "A")
    assert _runner(workdir, command="plan").run("run").code == 0
    assert _runner(workdir, command="apply").run("run").outputs["exit-code"] == "0"
    # Someone lowers erin's role in the console; then a merge adds zoe and its apply fails.
    world = World.load(workdir / "sandbox.json")
    account = world.amc[ACME]
    world.amc[ACME] = dataclasses.replace(
        account,
        users=tuple(
            dataclasses.replace(u, role="VIEWER") if u.user_id == "amzn1.account.ERIN0001" else u
            for u in account.users
        ),
    )
    world.save(workdir / "sandbox.json")
    acme = workdir / "manifests" / "amc" / "acme-amc.yaml"
    analysts = "      - {group: analysts, role: viewer}\n"
    zoe = "      - {email: zoe@example.com, role: viewer}\n"
    text = acme.read_text(encoding="utf-8")
    acme.write_text(text.replace(analysts, analysts + zoe), encoding="utf-8")
    merged = _commit(workdir, "B")
    state = tmp_path / "github.json"
    runs = [
        {"id": 1, "head_sha": applied, "event": "push", "status": "success"},
        {"id": 2, "head_sha": merged, "event": "push", "status": "failure"},
        {"id": 3, "head_sha": merged, "event": "schedule", "status": "success"},
    ]
    runs = [{**r, "name": "reconciler", "head_branch": "main", "artifacts": {}} for r in runs]
    state.write_text(json.dumps({"comments": [], "runs": runs}))
    env = {
        "GITHUB_TOKEN": "fake-token",
        "FAKE_GH_STATE": str(state),
        "GITHUB_WORKFLOW": "reconciler",
    }
    fake = f"{_fake_gh(tmp_path)}{os.pathsep}"
    example = REPO / "examples" / "ci" / "github-actions.yml"
    found = run_workflow_step(
        example, "drift", "applied", workdir, {**env, "PATH": fake + os.environ["PATH"]}
    )
    assert found.code == 0, found.log
    assert found.outputs["sha"] == applied
    drift = _runner(workdir, command="drift", baseline=found.outputs["sha"]).run("run")
    assert drift.code == 1 and drift.outputs["exit-code"] == "2", drift.log
    assert f"[changed behind git's back] amc:{ACME}: set role of e***@example.com" in drift.stdout
    assert f"[not applied yet] amc:{ACME}: invite z***@example.com" in drift.stdout
    assert f"Drift by class (against baseline {applied[:12]}):" in drift.stdout
    # No successful apply yet: no baseline, and nothing claimed.
    state.write_text(json.dumps({"comments": [], "runs": runs[1:]}))
    none = run_workflow_step(
        example, "drift", "applied", workdir, {**env, "PATH": fake + os.environ["PATH"]}
    )
    assert none.code == 0 and none.outputs["sha"] == "", none.log
    assert "last successful apply: none yet" in none.stdout
    drift = _runner(workdir, command="drift", baseline="").run("run")
    assert drift.outputs["exit-code"] == "2"
    assert "[changed behind git's back or not applied yet]" in drift.stdout
    # The ref is data: one that looks like an option is refused, and fails the step.
    bad = _runner(workdir, command="drift", baseline="--output=x").run("run")
    assert bad.code == 1 and bad.outputs["exit-code"] == "1", bad.log
    assert "looks like an option, not a git revision" in bad.stderr
    # The nightly adopt against the same commit: erin's console change is adopted, zoe's
    # merged entry is kept (not applied yet), never reverted.
    state.write_text(json.dumps({"comments": [], "runs": runs}))
    found = run_workflow_step(
        example, "adopt", "applied", workdir, {**env, "PATH": fake + os.environ["PATH"]}
    )
    assert found.code == 0 and found.outputs["sha"] == applied, found.log
    adopt = _runner(workdir, command="adopt", baseline=applied).run("run")
    assert adopt.code == 0 and adopt.outputs["exit-code"] == "2", adopt.log
    text = acme.read_text(encoding="utf-8")
    assert zoe in text
    assert "userId: amzn1.account.ERIN0001, name: Erin, role: viewer}" in text
    bad = _runner(workdir, command="adopt", baseline="--output=x").run("run")
    assert bad.code == 1 and bad.outputs["exit-code"] == "1", bad.log
    assert "looks like an option, not a git revision" in bad.stdout


def _fake_gh(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    gh = bin_dir / "gh"
    fake = Path(__file__).with_name("fake_gh.py")
    gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
    gh.chmod(0o755)
    return bin_dir
