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
    assert commands == {
        "validate", "plan", "apply", "replan-and-apply", "drift", "${{ matrix.command }}"
    }  # fmt: skip
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
    """Limits are lifted in the reviewed manifests' `policy:`, not the pipeline."""
    guards = {"--max-removals", "--max-removal-fraction", "--removal-floor"}
    guards |= {"--allow-incomplete", "--allow-unresolved", "--allow-fewer-admins"}
    used = {flag for _, flag in _reconciler_flags(path.read_text(encoding="utf-8"))}
    assert not used & guards


def test_the_nightly_drift_runs_against_the_last_successful_apply() -> None:
    """The GitHub drift job passes the last successful apply's head sha as
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
    main_checkout, checkout, take, validate, plan = job["steps"]
    assert main_checkout["with"]["persist-credentials"] is False
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
    assert plan["with"] == {"command": "plan", "paths": "manifests", "changed-since": "merge-base"}


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


def _artifact_name(
    action: dict[str, Any], number: int, head: str, *, run_id: int, attempt: int
) -> str:
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
        ("github.run_id", str(run_id)),
        ("github.run_attempt", str(attempt)),
    ):
        name = name.replace(f"${{{{ {expression} }}}}", value)
    assert "${{" not in name, name
    return name


def test_plan_artifact_names_are_unique_per_run_attempt() -> None:
    """upload-artifact refuses a name already used in the run: a re-run (attempt 2) of the
    plan job must not reuse attempt 1's."""
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    first = _artifact_name(action, 7, "abc", run_id=900, attempt=1)
    assert first == "reconciler-plan-7-abc-900-1"
    assert _artifact_name(action, 7, "abc", run_id=900, attempt=2) != first
    assert _artifact_name(action, 7, "abc", run_id=901, attempt=1) != first
    (journal,) = [
        s for s in action["runs"]["steps"]
        if "upload-artifact" in str(s.get("uses")) and "journal" in str(s["with"]["path"])
    ]  # fmt: skip
    assert journal["with"]["name"].endswith("${{ github.run_id }}-${{ github.run_attempt }}")


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
            "artifacts": {
                _artifact_name(action_yml, pr["number"], head, run_id=900, attempt=1): plan_files
            },
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


# --------------------------------------------------------------------------------------------
# Pull requests plan only what they change (`--changed-since` the merge base), the merged
# plan applies over that scope whatever moved elsewhere, and a refused one is recovered by
# one manual run on main. The stand-in `gh`, a git origin, and the sandbox.
# --------------------------------------------------------------------------------------------

GLOBEX = "amzn1.ads1.ma1.sandbox000002"
ZED = "      - {email: zed@example.com, name: Zed, role: viewer}\n"


def _pr_event(path: Path, number: int, base: str, head: str) -> Path:
    event = {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "base": {"sha": base, "ref": "main"},
            "head": {"sha": head, "ref": "add-zed"},
        },
    }
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


class _Repo:
    """GitHub holding example-org/ads-access (origin), whose main's manifests are live, and
    pull request #7 (branch add-zed) that invites zed on Acme's AMC account only. After the
    branch was cut, main moved on: a link added to Globex Brands (another account)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        seed = tmp_path / "seed"
        seed.mkdir()
        shutil.copytree(REPO / "examples" / "manifests", seed / "manifests")
        self.world = tmp_path / "sandbox.json"
        World.default().save(self.world)
        self.origin = github_origin(tmp_path, seed)
        self.reconciler(seed, "apply", "--sandbox", "--auto-approve", "manifests")
        git(seed, "checkout", "--quiet", "-b", "add-zed")
        amc = seed / "manifests" / "amc" / "acme-amc.yaml"
        amc.write_text(amc.read_text(encoding="utf-8") + ZED, encoding="utf-8")
        git(seed, "commit", "--quiet", "-am", "invite zed")
        git(seed, "push", "--quiet", str(self.origin), "add-zed")
        git(seed, "checkout", "--quiet", "main")
        managers = seed / "manifests" / "manager-accounts.yaml"
        text = managers.read_text(encoding="utf-8")
        linked = "      - id: ENTITY1ACME0006\n"
        added = text.replace(linked, f"{linked}      - id: ENTITY1ACME0007\n")
        managers.write_text(added, encoding="utf-8")
        git(seed, "commit", "--quiet", "-am", "link 0007 to Globex")
        git(seed, "push", "--quiet", str(self.origin), "main")
        self.seed = seed
        self.base = git(self.origin, "rev-parse", "main").strip()
        self.head = git(self.origin, "rev-parse", "add-zed").strip()
        self.merge_base = git(self.origin, "merge-base", "main", "add-zed").strip()
        assert self.merge_base not in (self.base, self.head)
        self.state = tmp_path / "github.json"
        self.state.write_text(json.dumps({"comments": [], "git": str(self.origin)}))
        self.gh = f"{fake_gh_bin(tmp_path)}{os.pathsep}"
        self.common = {
            "RECONCILER_SANDBOX_STATE": str(self.world),
            "FAKE_GH_STATE": str(self.state),
            "GITHUB_TOKEN": "workflow-token",
            "GITHUB_WORKFLOW": "reconciler",
            "GITHUB_WORKFLOW_REF": "example-org/ads-access/.github/workflows/reconciler.yml@main",
            **github_server(tmp_path),
        }

    def reconciler(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=cwd,
            env={**os.environ, "RECONCILER_SANDBOX_STATE": str(self.world)},
            capture_output=True,
            text=True,
        )
        assert done.returncode in (0, 2), done.stdout + done.stderr
        return done

    def action(self, workdir: Path, env: dict[str, str], **inputs: str) -> ActionRunner:
        runner = ActionRunner(
            workdir, inputs={"args": "--sandbox", **inputs}, env={**self.common, **env}
        )
        runner.env["PATH"] = self.gh + runner.env["PATH"]
        return runner

    def plan_run(self) -> tuple[Path, ActionRunner]:
        """The example's plan job on pull_request_target: main checked out with its whole
        history, the pull request's head into pull-request/, its manifests taken over
        main's, then the action: the merge base, the plan."""
        run = self.tmp / "plan-run"
        git(self.tmp, "clone", "--quiet", str(self.origin), str(run))  # fetch-depth: 0
        git(self.tmp, "clone", "--quiet", str(self.origin), str(run / "pull-request"))
        git(run / "pull-request", "checkout", "--quiet", self.head)
        env = {**self.common, "PATH": self.gh + os.environ["PATH"]}
        taken = run_workflow_step(EXAMPLE, "plan", "manifests", run, env)
        assert taken.code == 0, taken.log
        event = _pr_event(self.tmp / "event.json", 7, self.base, self.head)
        job = _example()["jobs"]["plan"]
        (plan_step,) = [s for s in job["steps"] if s.get("id") == "plan"]
        runner = self.action(
            run,
            {"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_EVENT_PATH": str(event),
             "GITHUB_REPOSITORY": "example-org/ads-access"},
            **{k: str(v) for k, v in plan_step["with"].items()},
        )  # fmt: skip
        return run, runner

    def merge(self, run: Path, runner: ActionRunner) -> Path:
        """What the upload step left becomes run 900's artifact; the pull request is merged
        with a merge commit; the apply job's checkout of it."""
        held = json.loads(self.state.read_text())
        plan_files = {
            n: (run / n).read_text(encoding="utf-8") for n in ("plan.json", "plan.json.digest")
        }
        action_yml = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
        name = _artifact_name(action_yml, 7, self.head, run_id=900, attempt=1)
        held["runs"] = [
            {"id": 900, "name": "reconciler", "event": "pull_request_target",
             "status": "success", "head_sha": self.base, "artifacts": {name: plan_files}},
        ]  # fmt: skip
        git(self.seed, "fetch", "--quiet", str(self.origin), "main")
        git(self.seed, "merge", "--quiet", "--no-ff", "-m", "Merge #7", self.head)
        git(self.seed, "push", "--quiet", str(self.origin), "main")
        merged_sha = git(self.origin, "rev-parse", "main").strip()
        held["pulls"] = [
            {"number": 7, "merged_at": "2026-12-05T10:00:00Z", "commits": [merged_sha],
             "head": {"sha": self.head}},
        ]  # fmt: skip
        self.state.write_text(json.dumps(held))
        merged = self.tmp / "apply-run"
        git(self.tmp, "clone", "--quiet", str(self.origin), str(merged))
        return merged

    def console(self, change: Any) -> None:
        world = World.load(self.world)
        change(world)
        world.save(self.world)


def _unlink_globex_0006(world: World) -> None:
    """Someone unlinks ENTITY1ACME0006 from Globex Brands in the console."""
    manager = world.managers[GLOBEX]
    links = tuple(link for link in manager.links if link.account_id != "ENTITY1ACME0006")
    world.managers[GLOBEX] = dataclasses.replace(manager, links=links)


def _erin_viewer(world: World) -> None:
    """Someone makes erin a viewer on Acme's AMC account (the one the pull request covers)."""
    world.amc[ACME] = dataclasses.replace(
        world.amc[ACME],
        users=tuple(
            dataclasses.replace(u, role="VIEWER") if u.user_id == "amzn1.account.ERIN0001" else u
            for u in world.amc[ACME].users
        ),
    )


needs_git_and_jq = pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("git") is None, reason="needs jq and git"
)


def test_the_plan_job_plans_since_the_merge_base_from_mains_history() -> None:
    """main checked out whole (fetch-depth 0), the pull request's manifests at the same path
    in it, and `changed-since: merge-base`; nothing else of the pull request's is taken."""
    job = _example()["jobs"]["plan"]
    main_checkout = job["steps"][0]
    assert main_checkout["with"] == {
        "fetch-depth": 0,
        "persist-credentials": False,
        "sparse-checkout": "manifests",
    }
    assert "ref" not in main_checkout["with"]  # pull_request_target: the base branch
    (plan,) = [s for s in job["steps"] if s.get("id") == "plan"]
    assert plan["with"]["changed-since"] == "merge-base"
    assert job["permissions"]["contents"] == "read"  # the compare API gives the merge base
    for name in ("drift", "adopt"):  # every account, each night
        assert "changed-since" not in str(_example()["jobs"][name])


@needs_git_and_jq
def test_a_pull_request_plans_only_its_account_and_applies_after_a_change_elsewhere(
    tmp_path: Path,
) -> None:
    repo = _Repo(tmp_path)
    run, planning = repo.plan_run()
    since = planning.run("since")
    assert since.code == 0, since.log
    assert since.outputs["ref"] == repo.merge_base  # not main's head, which moved on
    assert f"planning the accounts changed since the merge base {repo.merge_base}" in since.stdout
    planned = planning.run("run")
    assert planned.code == 0 and planned.outputs["exit-code"] == "2", planned.log
    plan = json.loads((run / "plan.json").read_text(encoding="utf-8"))
    assert plan["coverage"]["commit"] == repo.merge_base
    assert [a["scope"] for a in plan["coverage"]["accounts"]] == [f"amc:{ACME}"]
    assert plan["bindings"]["commit"] == repo.head
    assert "Covers 1 account changed since" in planned.stdout
    assert "invite zed&#64;example.com as viewer" in planned.stdout  # in the manifests: shown
    # The same manifests planned over everything, for contrast: a console change elsewhere
    # refuses that one.
    full = tmp_path / "full-plan.json"
    repo.reconciler(run, "plan", "--sandbox", "manifests", "--out", str(full))

    repo.console(_unlink_globex_0006)
    merged = repo.merge(run, planning)
    sha = git(merged, "rev-parse", "HEAD").strip()
    applying = repo.action(
        merged, {"GITHUB_EVENT_NAME": "push", "GITHUB_SHA": sha}, command="apply"
    )
    fetched = applying.run("fetch-plan")
    assert "fetched the plan of PR #7 from run 900" in fetched.stdout, fetched.log
    applied = applying.run("run")
    assert applied.code == 0 and applied.outputs["exit-code"] == "0", applied.log
    world = World.load(repo.world)
    assert any(i.email == "zed@example.com" for i in world.amc[ACME].invitations)
    # Globex is not the change's: left as the console made it, for drift to report.
    assert "ENTITY1ACME0006" not in {link.account_id for link in world.managers[GLOBEX].links}
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            "--sandbox",
            "--plan",
            str(full),
            "manifests",
        ],
        cwd=merged,
        env={**os.environ, "RECONCILER_SANDBOX_STATE": str(repo.world)},
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr


@needs_git_and_jq
def test_a_refused_merged_plan_is_recovered_by_one_manual_run_on_main(tmp_path: Path) -> None:
    repo = _Repo(tmp_path)
    run, planning = repo.plan_run()
    assert planning.run("since").code == 0
    assert planning.run("run").outputs["exit-code"] == "2"
    repo.console(_erin_viewer)  # on the account the plan covers
    merged = repo.merge(run, planning)
    sha = git(merged, "rev-parse", "HEAD").strip()
    applying = repo.action(
        merged, {"GITHUB_EVENT_NAME": "push", "GITHUB_SHA": sha}, command="apply"
    )
    assert applying.run("fetch-plan").code == 0
    refused = applying.run("run")
    assert refused.code == 1 and refused.outputs["exit-code"] == "1", refused.log
    assert "live state changed since it was made" in refused.log
    assert not any(
        i.email == "zed@example.com" for i in World.load(repo.world).amc[ACME].invitations
    )

    # The example's way back: Run workflow on main with reapply ticked, since left empty.
    workflow = _example()
    job = workflow["jobs"]["reapply"]
    assert job["environment"] == "amazon-ads"
    assert job["concurrency"] == workflow["jobs"]["apply"]["concurrency"]
    assert "github.ref == 'refs/heads/main'" in job["if"] and "inputs.reapply" in job["if"]
    assert job["steps"][0]["with"]["fetch-depth"] == 0
    dispatch = Event("workflow_dispatch", "refs/heads/main")
    assert amazon_values(received(workflow, "reapply", dispatch)) == AMAZON_KEYS
    assert not job_runs_on(job, PUSH_MAIN) and not job_runs_on(job, PULL_REQUEST_TARGET)
    for name in ("drift", "adopt"):
        assert "!inputs.reapply" in workflow["jobs"][name]["if"]
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("OWNER/reconciler@")]
    assert step["with"] == {
        "command": "replan-and-apply",
        "paths": "manifests",
        "changed-since": "${{ inputs.since }}",
    }
    recovering = repo.action(
        merged, {"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_SHA": sha},
        command="replan-and-apply", **{"changed-since": ""},
    )  # fmt: skip
    since = recovering.run("since")
    before = git(merged, "rev-parse", "HEAD^1").strip()
    assert since.code == 0 and since.outputs["ref"] == before, since.log
    recovered = recovering.run("run")
    assert recovered.code == 0 and recovered.outputs["exit-code"] == "0", recovered.log
    digest = recovered.outputs["plan-digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert f"Plan digest: {digest}" in recovered.stdout
    assert f"re-planned since {before}; plan digest {digest}" in recovered.stdout
    assert digest in (merged / "step-summary.md").read_text(encoding="utf-8")
    world = World.load(repo.world)
    assert any(i.email == "zed@example.com" for i in world.amc[ACME].invitations)
    # Only the pull request's account: the link main added for Globex waits for its own plan.
    assert "ENTITY1ACME0007" not in {link.account_id for link in world.managers[GLOBEX].links}


@needs_git_and_jq
def test_merge_base_needs_mains_history_in_the_checkout(tmp_path: Path) -> None:
    """A shallow checkout lacks the merge base: the plan job says what to fix, plans nothing."""
    repo = _Repo(tmp_path)
    run, planning = repo.plan_run()
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth", "1", repo.origin.as_uri(), str(shallow))
    shutil.rmtree(shallow / "manifests")
    shutil.copytree(run / "manifests", shallow / "manifests")
    planning.workdir = shallow
    since = planning.run("since")
    assert since.code == 1 and "ref" not in since.outputs
    assert (
        f"the merge base {repo.merge_base} is not in this checkout's history: check out the "
        "base branch with fetch-depth: 0"
    ) in since.stdout


def test_the_people_jobs_run_real_commands_and_open_one_pull_request_each() -> None:
    github = yaml.safe_load((CI / "github-actions.yml").read_text())
    people = github["jobs"]["people"]
    assert people["environment"] == "amazon-ads-read"
    assert people["permissions"] == {"contents": "read"}
    script = people["steps"][-1]["run"]
    # The person comes in through the environment, never spliced into the script.
    assert people["steps"][-1]["env"]["WHO"] == "${{ inputs.offboard }}"
    assert "${{" not in script
    assert 'offboard "$WHO" manifests' in script
    assert "review manifests --mask-emails --body" in script
    assert "mask_addresses" in script and "gh pr create" in script
    # Drift and adopt do not run on an offboarding dispatch.
    for job in ("drift", "adopt"):
        assert "inputs.offboard == ''" in github["jobs"][job]["if"]
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text())
    gitlab = "\n".join(template["reconciler:people"]["script"])
    assert 'reconciler offboard "$RECONCILER_OFFBOARD" $RECONCILER_PATHS' in gitlab
    assert "reconciler review $RECONCILER_PATHS --mask-emails --body review.md" in gitlab
    for command, flags in (("offboard", set()), ("review", {"--mask-emails", "--body"})):
        assert flags <= _known(command)
