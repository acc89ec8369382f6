"""The CI files call real commands with real flags, and never run two applies at once.
(Moved from tests/cli/test_state.py when the examples started using the action and the
GitLab template, where the commands now live.)"""

from __future__ import annotations

import re
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli
from tests.ci.steps import ACTION, GITLAB_TEMPLATE, REPO

CI = REPO / "examples" / "ci"


def _reconciler_flags(text: str) -> set[tuple[str, str]]:
    """(command, --flag) for every `reconciler COMMAND ... --flag` in a CI file."""
    found: set[tuple[str, str]] = set()
    for match in re.finditer(
        r"reconciler (plan|apply|drift|validate|import|adopt)\b([^\n]*)", text
    ):
        for flag in re.findall(r"(--[a-z-]+)", match.group(2)):
            found.add((match.group(1), flag))
    return found


def _known(command: str) -> set[str]:
    params = cli.commands[command].params
    return {opt for p in params if isinstance(p, click.Option) for opt in p.opts}


@pytest.mark.parametrize("path", [ACTION, GITLAB_TEMPLATE], ids=lambda p: p.name)
def test_ci_files_use_real_flags(path: Any) -> None:
    used = _reconciler_flags(path.read_text(encoding="utf-8"))
    assert {("apply", "--plan"), ("apply", "--journal"), ("plan", "--out")} <= used
    assert ("plan", "--detailed-exitcode") in used
    for command, flag in used:
        assert flag in _known(command), f"{path.name}: reconciler {command} has no {flag}"
    # --mask-emails is passed through a variable, so the regex cannot see it.
    assert "--mask-emails" in _known("plan") and "--mask-emails" in _known("drift")


def test_examples_have_the_three_jobs() -> None:
    github = yaml.safe_load((CI / "github-actions.yml").read_text())["jobs"]
    assert {"plan", "apply", "drift"} <= set(github)
    commands = {
        step["with"]["command"]
        for job in github.values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("OWNER/reconciler@")
    }
    matrix = github["adopt"]["strategy"]["matrix"]["command"]
    assert commands == {"validate", "plan", "apply", "drift", "${{ matrix.command }}"}
    assert matrix == ["adopt", "expiring"]
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text())
    assert {"reconciler:plan", "reconciler:apply", "reconciler:drift"} <= set(template)
    assert "reconciler:adopt" in template
    example = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    assert "ci/gitlab/reconciler.gitlab-ci.yml" in example["include"][0]["remote"]


def test_ci_never_runs_two_applies_at_once() -> None:
    """The apply lock covers one machine; CI runners are serialised by the CI itself."""
    github = yaml.safe_load((CI / "github-actions.yml").read_text())["jobs"]["apply"]
    assert github["concurrency"]["cancel-in-progress"] is False
    assert github["concurrency"]["group"]
    gitlab = yaml.safe_load(GITLAB_TEMPLATE.read_text())["reconciler:apply"]
    assert gitlab["resource_group"]


@pytest.mark.parametrize("path", [ACTION, GITLAB_TEMPLATE, *sorted(CI.iterdir())], ids=str)
def test_ci_never_lifts_a_guard(path: Any) -> None:
    """Issue #12: limits are lifted in the reviewed manifests' `policy:`, not the pipeline."""
    guards = {"--max-removals", "--max-removal-fraction", "--removal-floor"}
    guards |= {"--allow-incomplete", "--allow-unresolved", "--allow-fewer-admins"}
    used = {flag for _, flag in _reconciler_flags(path.read_text(encoding="utf-8"))}
    assert not used & guards


def test_the_nightly_drift_runs_against_the_last_successful_apply() -> None:
    """Issue #15: the GitHub drift job passes the last successful apply's head sha as
    `baseline:`, from a full clone; the GitLab template offers RECONCILER_BASELINE."""
    job = yaml.safe_load((CI / "github-actions.yml").read_text())["jobs"]["drift"]
    checkout, find, drift = job["steps"]
    assert checkout["with"]["fetch-depth"] == 0
    assert "gh run list" in find["run"] and "--status success" in find["run"]
    assert "--json headSha --jq '.[0].headSha // empty'" in find["run"]
    assert drift["with"]["baseline"] == "${{ steps.applied.outputs.sha }}"
    assert job["permissions"]["actions"] == "read"
    action = yaml.safe_load(ACTION.read_text())
    assert "baseline" in action["inputs"]
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text())
    assert template["variables"]["RECONCILER_BASELINE"] == ""
    assert template["reconciler:drift"]["variables"]["GIT_DEPTH"] == "0"
    example = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    assert example["variables"]["RECONCILER_BASELINE"] == "last-apply"
