"""The GitLab template's job scripts, run with bash as GitLab's runner does, against the
sandbox: the plan job accepts exactly 0 and 2, says why otherwise, and leaves its dotenv."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.sandbox import World
from tests.ci.fake_gitlab import PROJECT, TOKEN, GitLab, serve
from tests.ci.steps import REPO, run_gitlab_job

MR = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "examples" / "manifests", tmp_path / "manifests")
    World.default().save(tmp_path / "sandbox.json")
    return tmp_path


def test_plan_job_passes_with_changes_and_keeps_its_artifacts(workdir: Path) -> None:
    done = run_gitlab_job("reconciler:plan", workdir, {**MR, "RECONCILER_ARGS": "--sandbox"})
    assert done.code == 0, done.log
    assert done.outputs["RECONCILER_EXIT_CODE"] == "2"
    assert "RECONCILER_PLAN_DIGEST" in done.outputs
    assert (workdir / "plan.json").exists()
    assert (workdir / "plan.md").read_text(encoding="utf-8").strip()
    assert "GITLAB_API_TOKEN is not set: the plan is not posted" in done.stdout


@pytest.mark.parametrize(
    ("variables", "code", "why"),
    [
        ({"RECONCILER_ARGS": "--sandbox --no-such-flag"}, "64", "usage error"),
        ({"RECONCILER_ARGS": "--sandbox --max-removals 0"}, "1", "an error, or refused"),
    ],
)
def test_plan_job_fails_on_anything_else_and_says_why(
    workdir: Path, variables: dict[str, str], code: str, why: str
) -> None:
    done = run_gitlab_job("reconciler:plan", workdir, {**MR, **variables})
    assert done.code != 0
    assert done.outputs["RECONCILER_EXIT_CODE"] == code
    assert f"reconciler plan failed (exit {code}): {why}" in done.stderr


def test_drift_job_fails_when_drifted(workdir: Path) -> None:
    done = run_gitlab_job("reconciler:drift", workdir, {"RECONCILER_ARGS": "--sandbox"})
    assert done.code != 0
    assert done.outputs["RECONCILER_EXIT_CODE"] == "2"
    assert "reconciler drift failed (exit 2): live state drifted" in done.stderr


def _api(gitlab: GitLab, **extra: str) -> dict[str, str]:
    return {
        "CI_API_V4_URL": gitlab.url,
        "CI_PROJECT_ID": PROJECT,
        "GITLAB_API_TOKEN": TOKEN,
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
        **extra,
    }


def test_plan_note_is_created_once_then_updated(workdir: Path) -> None:
    with serve(GitLab()) as gitlab:
        gitlab.notes[7] = [{"id": 5, "body": "looks good"}]
        variables = {**MR, **_api(gitlab), "RECONCILER_ARGS": "--sandbox"}
        first = run_gitlab_job("reconciler:plan", workdir, variables)
        assert first.code == 0, first.log
        assert "posted the plan as a note on the merge request" in first.stdout
        second = run_gitlab_job("reconciler:plan", workdir, variables)
        assert second.code == 0, second.log
        assert "updated the plan note 901" in second.stdout
    notes = gitlab.notes[7]
    assert [n["id"] for n in notes] == [5, 901]
    assert notes[1]["body"].startswith("<!-- reconciler-plan -->\n")


def test_a_refused_plan_is_posted_then_fails_the_job(workdir: Path) -> None:
    """Issue #12: the merge request shows who would lose access exactly when a guard refuses."""
    with serve(GitLab()) as gitlab:
        variables = {**MR, **_api(gitlab), "RECONCILER_ARGS": "--sandbox --max-removals 0"}
        done = run_gitlab_job("reconciler:plan", workdir, variables)
        assert done.code != 0
        assert "posted the plan as a note on the merge request" in done.stdout, done.log
        assert "reconciler plan failed (exit 1): an error, or refused" in done.stderr
    (note,) = gitlab.notes[7]
    assert "REFUSED by 1 guard" in note["body"]


def test_apply_fetches_the_merged_mrs_plan_through_its_pipelines(workdir: Path) -> None:
    # The plan job ran in a merge-request pipeline (no branch artifacts); the source branch
    # is gone. A newer pipeline's plan job failed: the last successful one is used.
    plan = run_gitlab_job("reconciler:plan", workdir, {**MR, "RECONCILER_ARGS": "--sandbox"})
    assert plan.code == 0, plan.log
    reviewed = (workdir / "plan.json").read_bytes()
    (workdir / "plan.json").unlink()  # a fresh runner
    merged = "c0ffee"
    state = GitLab(
        merge_requests=[{"iid": 7, "state": "merged", "commits": [merged, "ab12"]}],
        pipelines={7: [{"id": 11}, {"id": 12}]},
        jobs={
            11: [{"id": 111, "name": "reconciler:plan", "status": "success"}],
            12: [{"id": 121, "name": "reconciler:plan", "status": "failed"}],
        },
        artifacts={(111, "plan.json"): reviewed},
    )
    with serve(state) as gitlab:
        variables = {**_api(gitlab, CI_COMMIT_SHA=merged), "RECONCILER_ARGS": "--sandbox"}
        done = run_gitlab_job("reconciler:apply", workdir, variables)
    assert done.code == 0, done.log
    assert "fetched the plan of !7 from job 111 (pipeline 11)" in done.stdout
    assert done.outputs["RECONCILER_EXIT_CODE"] == "0"
    assert (workdir / "journal.jsonl").read_text(encoding="utf-8").strip()


def test_apply_without_a_merged_mr_applies_nothing_and_says_why(workdir: Path) -> None:
    with serve(GitLab()) as gitlab:
        variables = {**_api(gitlab, CI_COMMIT_SHA="deadbeef"), "RECONCILER_ARGS": "--sandbox"}
        done = run_gitlab_job("reconciler:apply", workdir, variables)
    assert done.code != 0
    assert "no merged merge request for deadbeef" in done.stderr
    assert not (workdir / "journal.jsonl").exists()


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_adopt_job_opens_one_merge_request_then_updates_it(workdir: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "--quiet", "--bare", str(origin))
    _git(workdir, "init", "--quiet", "-b", "main")
    _git(workdir, "-c", "user.name=t", "-c", "user.email=t@x", "add", "manifests")
    _git(workdir, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "--quiet", "-m", "m")
    schedule = {
        "CI_PIPELINE_SOURCE": "schedule",
        "RECONCILER_ADOPT": "adopt",
        "RECONCILER_ARGS": "--sandbox",
        "RECONCILER_PUSH_URL": str(origin),
        "CI_DEFAULT_BRANCH": "main",
    }
    with serve(GitLab()) as gitlab:
        first = run_gitlab_job("reconciler:adopt", workdir, {**schedule, **_api(gitlab)})
        assert first.code == 0, first.log
        assert first.outputs["RECONCILER_EXIT_CODE"] == "2"
        assert "opened merge request !30 from reconciler/adopt into main" in first.stdout
        assert "@example.com" not in first.log
        _git(workdir, "checkout", "--quiet", "main")
        second = run_gitlab_job("reconciler:adopt", workdir, {**schedule, **_api(gitlab)})
        assert second.code == 0, second.log
        assert "updated merge request !30 from reconciler/adopt" in second.stdout
    [mr] = gitlab.opened
    assert mr["target_branch"] == "main" and "close it and run apply" in mr["description"]
    assert _git(origin, "log", "-1", "--format=%s", "reconciler/adopt").strip() == (
        "reconciler: adopt"
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_drift_job_tells_changes_apart_with_reconciler_baseline(workdir: Path) -> None:
    """Issue #15: RECONCILER_BASELINE (the last applied commit) labels each change."""
    git = ["-c", "user.name=t", "-c", "user.email=t@x", "-c", "commit.gpgsign=false"]
    _git(workdir, "init", "--quiet", "-b", "main")
    _git(workdir, "add", "manifests")
    _git(workdir, *git, "commit", "--quiet", "-m", "A")
    applied = _git(workdir, "rev-parse", "HEAD").strip()
    env = {**os.environ, "RECONCILER_SANDBOX_STATE": str(workdir / "sandbox.json")}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "--sandbox", "--auto-approve", "manifests"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    world = World.load(workdir / "sandbox.json")
    world.amc["ENTITY1AA1AA11AAA1"] = dataclasses.replace(
        world.amc["ENTITY1AA1AA11AAA1"], users=()
    )  # the console removed everyone
    world.save(workdir / "sandbox.json")
    schedule = {"CI_PIPELINE_SOURCE": "schedule", "RECONCILER_ARGS": "--sandbox"}
    done = run_gitlab_job("reconciler:drift", workdir, {**schedule, "RECONCILER_BASELINE": applied})
    assert done.outputs["RECONCILER_EXIT_CODE"] == "2", done.log
    assert "[changed behind git's back] amc:ENTITY1AA1AA11AAA1: invite" in done.stdout
    assert "not applied yet" not in done.stdout
    # `last-apply`: the newest successful apply job on the default branch, through the API.
    jobs = [
        {"id": 9, "name": "reconciler:apply", "ref": "feature", "status": "success"},
        {"id": 8, "name": "reconciler:plan", "ref": "main", "status": "success"},
        {"id": 7, "name": "reconciler:apply", "ref": "main", "status": "failed"},
        {"id": 6, "name": "reconciler:apply", "ref": "main", "status": "success"},
    ]
    jobs = [{**j, "commit": {"id": f"{j['id']}" * 40 if j["id"] != 6 else applied}} for j in jobs]
    with serve(GitLab(project_jobs=jobs)) as gitlab:
        variables = {**schedule, **_api(gitlab), "CI_DEFAULT_BRANCH": "main"}
        done = run_gitlab_job(
            "reconciler:drift", workdir, {**variables, "RECONCILER_BASELINE": "last-apply"}
        )
    assert f"last successful apply: {applied}" in done.stdout, done.log
    assert "[changed behind git's back] amc:ENTITY1AA1AA11AAA1: invite" in done.stdout
    with serve(GitLab(project_jobs=jobs[:2])) as gitlab:
        variables = {**schedule, **_api(gitlab), "CI_DEFAULT_BRANCH": "main"}
        done = run_gitlab_job(
            "reconciler:drift", workdir, {**variables, "RECONCILER_BASELINE": "last-apply"}
        )
    assert "last successful apply: none found (changes are not told apart)" in done.stdout
    assert "[changed behind git's back or not applied yet]" in done.stdout, done.log
    (workdir / "reconciler.env").unlink()
    done = run_gitlab_job(
        "reconciler:drift", workdir, {**schedule, "RECONCILER_BASELINE": "last-apply"}
    )
    assert done.code != 0 and done.outputs == {}, done.log  # drift did not run
    assert "GITLAB_API_TOKEN is not set: cannot find the last successful apply" in done.stderr
    done = run_gitlab_job("reconciler:drift", workdir, schedule)  # the template's default: ""
    assert "[changed behind git's back or not applied yet]" in done.stdout
    done = run_gitlab_job("reconciler:drift", workdir, {**schedule, "RECONCILER_BASELINE": "-x y"})
    assert done.outputs["RECONCILER_EXIT_CODE"] == "1", done.log
    assert "Error: --baseline '-x y': looks like an option" in done.stderr
    # The adopt job passes the same baseline (its error is in adopt.txt, shown on failure);
    # the expiring job reads nothing live and takes none.
    for mode, code in (("adopt", "1"), ("expiring", "0")):
        variables = {**schedule, "RECONCILER_ADOPT": mode, "RECONCILER_BASELINE": "-x y"}
        done = run_gitlab_job("reconciler:adopt", workdir, variables)
        assert done.outputs["RECONCILER_EXIT_CODE"] == code, done.log
        assert ("looks like an option" in done.stdout) is (mode == "adopt"), done.log
