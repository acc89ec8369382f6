"""The GitLab template's job scripts, run with bash as GitLab's runner does, against the
sandbox: the plan job accepts exactly 0 and 2, says why otherwise, and leaves its dotenv."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.sandbox import World
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
