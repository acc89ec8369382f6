"""The CI files call real commands with real flags, and never run two applies at once.
(Moved from tests/cli/test_state.py when the examples started using the action and the
GitLab template, where the commands now live.)"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli
from reconciler.sandbox import World
from tests.ci.fake_actions import (
    AMAZON,
    PULL_REQUEST,
    PULL_REQUEST_TARGET,
    PUSH_BRANCH,
    PUSH_MAIN,
    SCHEDULE,
    Event,
    amazon_values,
    job_runs_on,
    received,
    triggers,
)
from tests.ci.steps import (
    ACTION,
    GITLAB_TEMPLATE,
    REPO,
    ActionRunner,
    fake_gh_bin,
    git,
    github_origin,
    github_server,
    run_workflow_step,
)

CI = REPO / "examples" / "ci"


def _reconciler_flags(text: str) -> set[tuple[str, str]]:
    """(command, --flag) for every `reconciler COMMAND ... --flag` in a CI file."""
    found: set[tuple[str, str]] = set()
    for match in re.finditer(
        r"reconciler (plan|apply|drift|validate|import|adopt|pin)\b([^\n]*)", text
    ):
        for flag in re.findall(r"(--[a-z-]+)", match.group(2)):
            found.add((match.group(1), flag))
    # A command built as a Python list (the GitLab plan job): ["reconciler", "plan", ...].
    for match in re.finditer(r'\["reconciler", "(plan|apply|drift)"([^\]]*)\]', text):
        for flag in re.findall(r'"(--[a-z-]+)"', match.group(2)):
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
    assert matrix == ["adopt", "expiring", "pin"]
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


# --------------------------------------------------------------------------------------------
# Who holds the Amazon credentials (the README's CI security model), with the stand-in for
# GitHub's secret delivery (tests/ci/fake_actions.py): what each job receives.
# --------------------------------------------------------------------------------------------

EXAMPLE = CI / "github-actions.yml"
AMAZON_KEYS = set(AMAZON)


def _example() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return loaded


def test_only_mains_jobs_receive_the_amazon_credentials() -> None:
    workflow = _example()
    assert "secrets." not in str(workflow.get("env", {}))
    # The jobs that need them get them (so the checks below can fail) ...
    assert amazon_values(received(workflow, "plan", PULL_REQUEST_TARGET)) == AMAZON_KEYS
    assert amazon_values(received(workflow, "apply", PUSH_MAIN)) == AMAZON_KEYS
    assert amazon_values(received(workflow, "drift", SCHEDULE)) == AMAZON_KEYS
    assert amazon_values(received(workflow, "adopt", SCHEDULE)) == AMAZON_KEYS
    # ... and nothing runs on pull_request (the branch's own copy of the workflow file).
    assert "pull_request" not in triggers(workflow)
    for job_id in workflow["jobs"]:
        assert amazon_values(received(workflow, job_id, PULL_REQUEST)) == set(), job_id
    # The job that applies names the environment that holds the write credential.
    assert workflow["jobs"]["apply"]["environment"] == "amazon-ads"
    for job_id, job in workflow["jobs"].items():
        if "secrets.AMAZON_ADS_" in str(job):
            assert job.get("environment") in ("amazon-ads", "amazon-ads-read"), job_id
            assert not job_runs_on(job, PULL_REQUEST), job_id


def _steal(job_if: str, **extra: Any) -> dict[str, Any]:
    """A job a branch writes: apply its own manifests with whatever credentials it gets."""
    return {
        "if": job_if,
        "runs-on": "ubuntu-latest",
        **extra,
        "steps": [
            {
                "run": "pip install evil && reconciler apply --auto-approve manifests",
                "env": {k: f"${{{{ secrets.{k} }}}}" for k in AMAZON},
            }
        ],
    }


def _with_trigger(workflow: dict[str, Any], event: str, value: Any) -> dict[str, Any]:
    on = workflow.pop("on", None) or workflow.pop(True, {})
    workflow["on"] = {**on, event: value}
    return workflow


def _branch_edits() -> dict[str, dict[str, Any]]:
    """What a person who can push a branch may make of the workflow file on it."""
    pull_request = "github.event_name == 'pull_request'"
    edits: dict[str, dict[str, Any]] = {}
    wf = _with_trigger(_example(), "pull_request", {})
    wf["jobs"]["steal"] = _steal(pull_request)
    edits["a pull_request job asking for the secrets"] = wf
    wf = _with_trigger(_example(), "pull_request", {})
    wf["jobs"]["steal"] = _steal(pull_request, environment="amazon-ads")
    edits["the apply environment on a pull_request job"] = wf
    wf = _with_trigger(_example(), "pull_request", {})
    wf["jobs"]["plan"]["if"] = pull_request
    wf["jobs"]["plan"]["steps"].insert(2, {"run": "sh manifests/evil.sh"})
    edits["the plan job moved to pull_request"] = wf
    wf = _with_trigger(_example(), "pull_request", {})
    wf["env"] = {k: f"${{{{ secrets.{k} }}}}" for k in AMAZON}
    wf["jobs"]["steal"] = _steal(pull_request)
    edits["workflow-level env"] = wf
    wf = _with_trigger(_example(), "push", {"branches": ["**"]})
    wf["jobs"]["steal"] = _steal("github.event_name == 'push'", environment="amazon-ads-read")
    edits["a push trigger for its own branch"] = wf
    wf = _example()
    wf["jobs"]["plan"]["steps"].insert(2, {"run": "sh manifests/evil.sh"})
    edits["the pull_request_target plan job runs the branch's script"] = wf
    return edits


@pytest.mark.parametrize("edit", sorted(_branch_edits()))
def test_a_branch_edited_workflow_gets_no_amazon_credential(edit: str) -> None:
    """Whatever a branch makes of the workflow file, a job that runs that file receives no
    Amazon credential; a job that receives one runs main's file, unchanged."""
    main, edited = _example(), _branch_edits()[edit]
    for event in (PULL_REQUEST, PULL_REQUEST_TARGET, PUSH_BRANCH):
        if event.name not in triggers(edited) | triggers(main):
            continue
        running = main if event.runs_main_file else edited
        for job_id, job in running["jobs"].items():
            if not job_runs_on(job, event):
                continue
            got = amazon_values(received(running, job_id, event))
            if running is edited:
                assert got == set(), (edit, event.name, job_id)
            else:
                assert "evil" not in str(job), (edit, job_id)
    # The same edits from a fork: nothing at all.
    fork = Event("pull_request", "refs/pull/42/merge", from_fork=True)
    for job_id in edited["jobs"]:
        assert amazon_values(received(edited, job_id, fork)) == set()


def test_the_plan_job_takes_only_the_manifests_from_the_pull_request() -> None:
    """pull_request_target: main's workflow and the pinned tool; the pull request's head is
    checked out without credentials into its own folder, from which only manifests/ is
    taken, and nothing from it runs."""
    job = _example()["jobs"]["plan"]
    assert "head.repo.full_name == github.repository" in job["if"]  # no fork is planned
    checkout, take, validate, plan = job["steps"]
    assert checkout["with"] == {
        "ref": "${{ github.event.pull_request.head.sha }}",
        "path": "pull-request",
        "persist-credentials": False,
        "sparse-checkout": "manifests",
    }
    assert "120000" in take["run"] and "160000" in take["run"]  # links, submodules refused
    assert "env" not in take and "env" not in validate  # no credential for either
    assert validate["with"] == {"command": "validate", "paths": "manifests"}
    assert str(plan["uses"]).startswith("OWNER/reconciler@")
    assert plan["with"] == {"command": "plan", "paths": "manifests"}


# --------------------------------------------------------------------------------------------
# The adopt loop, end to end, with the stand-in `gh` and the sandbox: drift, adopt, pull
# request, plan comment, merge, apply.
# --------------------------------------------------------------------------------------------

ACME = "ENTITY1AA1AA11AAA1"
APP_TOKEN = "ghs-app-installation-token"


def _event(path: Path, number: int, head: str) -> Path:
    event = {
        "action": "opened",
        "number": number,
        "pull_request": {"number": number, "head": {"sha": head, "ref": "reconciler/adopt"}},
    }
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


def _artifact_name(action: dict[str, Any], number: int, head: str) -> str:
    """The plan artifact's name, from the action's upload step (as GitHub resolves it)."""
    (upload,) = [
        s
        for s in action["runs"]["steps"]
        if str(s.get("uses", "")).startswith("actions/upload-artifact@")
        and "plan-file" in str(s["with"]["path"])
    ]
    name = str(upload["with"]["name"])
    for expression, value in (
        ("inputs.artifact-name", "reconciler-plan"),
        ("github.event.pull_request.number", str(number)),
        ("github.event.pull_request.head.sha", head),
    ):
        name = name.replace(f"${{{{ {expression} }}}}", value)
    return name


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("git") is None, reason="needs jq and git"
)
def test_the_adopt_loop_closes(tmp_path: Path) -> None:
    main = tmp_path / "main"
    main.mkdir()
    shutil.copytree(REPO / "examples" / "manifests", main / "manifests")
    world_file = tmp_path / "sandbox.json"
    World.default().save(world_file)
    origin = github_origin(tmp_path, main)
    state = tmp_path / "github.json"
    state.write_text(json.dumps({"comments": [], "tokens": {APP_TOKEN: "reconciler-app[bot]"}}))
    gh = f"{fake_gh_bin(tmp_path)}{os.pathsep}"
    common = {
        "RECONCILER_SANDBOX_STATE": str(world_file),
        "FAKE_GH_STATE": str(state),
        "GITHUB_TOKEN": "workflow-token",
        "GITHUB_WORKFLOW": "reconciler",
        "GITHUB_WORKFLOW_REF": "example-org/ads-access/.github/workflows/reconciler.yml@main",
        **github_server(tmp_path),
    }

    def action(workdir: Path, env: dict[str, str], **inputs: str) -> ActionRunner:
        runner = ActionRunner(
            workdir, inputs={"args": "--sandbox", **inputs}, env={**common, **env}
        )
        runner.env["PATH"] = gh + runner.env["PATH"]
        return runner

    # Live state is what main says; then someone makes erin a viewer in the console.
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "--sandbox", "--auto-approve", "manifests"],
        cwd=main,
        env={**os.environ, "RECONCILER_SANDBOX_STATE": str(world_file)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    world = World.load(world_file)
    world.amc[ACME] = dataclasses.replace(
        world.amc[ACME],
        users=tuple(
            dataclasses.replace(u, role="VIEWER") if u.user_id == "amzn1.account.ERIN0001" else u
            for u in world.amc[ACME].users
        ),
    )
    world.save(world_file)

    # 1. The nightly drift check sees it.
    drift = action(main, {"GITHUB_EVENT_NAME": "schedule"}, command="drift").run("run")
    assert drift.code == 1 and drift.outputs["exit-code"] == "2", drift.log

    # 2. adopt writes it into the manifests and opens a pull request with the App's token.
    adopt = action(
        main, {"GITHUB_EVENT_NAME": "schedule"}, command="adopt", **{"github-token": APP_TOKEN}
    )
    assert adopt.run("run").outputs["exit-code"] == "2"
    opened = adopt.run("pull-request")
    assert opened.code == 0, opened.log
    [pr] = json.loads(state.read_text())["prs"]
    assert pr["author"] == "reconciler-app[bot]" and pr["workflows_started"] is True
    head = git(origin, "rev-parse", "reconciler/adopt").strip()

    # 3. GitHub runs the plan job (pull_request_target, main's workflow): the pull request's
    #    head checked out into pull-request/, only its manifests taken, planned, posted.
    run = tmp_path / "plan-run"
    run.mkdir()
    git(tmp_path, "clone", "--quiet", str(origin), str(run / "pull-request"))
    git(run / "pull-request", "checkout", "--quiet", head)
    path = {"PATH": gh + os.environ["PATH"]}
    taken = run_workflow_step(EXAMPLE, "plan", "manifests", run, {**common, **path})
    assert taken.code == 0, taken.log
    assert not (run / "pull-request").exists()
    event = _event(tmp_path / "event.json", pr["number"], head)
    planning = action(
        run,
        {"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_EVENT_PATH": str(event)},
        command="plan",
    )
    planned = planning.run("run")
    assert planned.code == 0 and planned.outputs["exit-code"] == "0", planned.log  # = live
    assert json.loads((run / "plan.json").read_text())["bindings"]["commit"] == head
    posted = planning.run("comment")
    assert f"posted the plan as a comment on PR #{pr['number']}" in posted.stdout, posted.log
    held = json.loads(state.read_text())
    [comment] = held["comments"]
    assert comment["issue"] == pr["number"] and "No changes" in comment["body"]
    # What the upload step leaves: the plan artifact on this run.
    plan_files = {
        n: (run / n).read_text(encoding="utf-8") for n in ("plan.json", "plan.json.digest")
    }
    action_yml = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    held["runs"] = [
        {
            "id": 900,
            "name": "reconciler",
            "event": "pull_request_target",
            "status": "success",
            "head_sha": git(origin, "rev-parse", "main").strip(),
            "artifacts": {_artifact_name(action_yml, pr["number"], head): plan_files},
        }
    ]

    # 4. A reviewer merges it (a fast-forward: main is the pull request's head).
    git(origin, "update-ref", "refs/heads/main", head)
    held["pulls"] = [
        {"number": pr["number"], "merged_at": "2026-12-05T10:00:00Z", "commits": [head],
         "head": {"sha": head}},
    ]  # fmt: skip
    state.write_text(json.dumps(held))

    # 5. The push to main applies the plan the pull request showed.
    merged = tmp_path / "apply-run"
    git(tmp_path, "clone", "--quiet", str(origin), str(merged))
    applying = action(merged, {"GITHUB_EVENT_NAME": "push", "GITHUB_SHA": head}, command="apply")
    fetched = applying.run("fetch-plan")
    assert f"fetched the plan of PR #{pr['number']} from run 900" in fetched.stdout, fetched.log
    applied = applying.run("run")
    assert applied.code == 0 and applied.outputs["exit-code"] == "0", applied.log
    assert "is the plan of these manifests now" in applied.stdout

    # 6. Nothing drifted any more: main describes what is live.
    again = action(merged, {"GITHUB_EVENT_NAME": "schedule"}, command="drift").run("run")
    assert again.code == 0 and again.outputs["exit-code"] == "0", again.log
    assert "erin@example.com" in (merged / "manifests" / "amc" / "acme-amc.yaml").read_text()
