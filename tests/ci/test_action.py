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
from reconciler.sandbox.state import Invitation
from tests.ci.steps import (
    REPO,
    ActionRunner,
    fake_gh_bin,
    github_origin,
    github_server,
    run_workflow_step,
)

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


ACME_ID = "ENTITY1AA1AA11AAA1"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "manifests")
    World.default().save(tmp_path / "sandbox.json")
    return tmp_path


def _runner(workdir: Path, env: dict[str, str] | None = None, **inputs: str) -> ActionRunner:
    return ActionRunner(workdir, inputs={"args": "--sandbox", **inputs}, env=env or {})


def _applier(workdir: Path, env: dict[str, str] | None = None, **inputs: str) -> ActionRunner:
    """An apply whose fetch-plan step found the plan the last plan step wrote (the tests of
    fetch-plan itself are below): a copy in the runner's temp, as fetch-plan leaves it."""
    runner = _runner(workdir, env, command="apply", **inputs)
    fetched = runner.temp / "reconciler" / "reviewed-plan.json"
    fetched.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(workdir / "plan.json", fetched)
    runner.outputs["fetch-plan"] = {"path": str(fetched)}
    return runner


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
    # Masked: the live-only address (dave's); shown as written: what the manifests hold.
    plan_md = (runner.temp / "reconciler" / "plan.md").read_text(encoding="utf-8")
    assert "revoke user d\\*\\*\\*&#64;example.com (amzn1.account.DAVE0001, viewer)" in plan_md
    assert "invite carol&#64;example.com as viewer" in plan_md
    assert "dave" not in plan_md.lower().replace("amzn1.account.dave0001", "")


def test_plan_without_changes_passes_with_exit_0(workdir: Path) -> None:
    first = _runner(workdir, command="plan")
    assert first.run("run").code == 0
    apply = _applier(workdir).run("run")
    assert apply.code == 0, apply.log
    assert apply.outputs["exit-code"] == "0"
    assert (workdir / "journal.jsonl").read_text(encoding="utf-8").count("\n") >= 1
    again = _runner(workdir, command="plan").run("run")
    assert again.code == 0, again.log
    assert again.outputs["exit-code"] == "0"
    assert "no changes" in again.stdout


def test_apply_log_masks_live_only_addresses_and_shows_the_manifests(workdir: Path) -> None:
    """The apply step masks as the comment does: a pending invitation nobody lists (an
    address only live state holds) is masked in the log; what the manifests hold is shown."""
    world = World.load(workdir / "sandbox.json")
    account = world.amc[ACME_ID]
    stray = Invitation(
        invitation_id="inv-stray",
        email="mallory@outsider.example",
        name="Mallory",
        role="admin",
        state="PENDING",
        created_at=world.now() - 60,
        expires_at=world.now() + 86_400,
    )
    world.amc[ACME_ID] = dataclasses.replace(account, invitations=(*account.invitations, stray))
    world.save(workdir / "sandbox.json")
    assert _runner(workdir, command="plan").run("run").code == 0
    applied = _applier(workdir).run("run")
    assert applied.code == 0 and applied.outputs["exit-code"] == "0", applied.log
    assert "mallory" not in applied.log
    assert "m***@outsider.example" in applied.stdout
    assert f"ok       amc:{ACME_ID}: invite carol@example.com as viewer" in applied.stdout


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
    """The pull request shows who would lose access exactly when a guard refuses."""
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
    origin = github_origin(tmp_path, workdir)
    state = tmp_path / "github.json"
    env = {"GITHUB_TOKEN": "fake-token", "FAKE_GH_STATE": str(state), **github_server(tmp_path)}
    runner = _runner(workdir, env=env, command="adopt")
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
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
    # Each added person by masked address and domain; nobody's full address.
    assert (
        "- adopted: manifests/amc/acme-amc.yaml: added amzn1.account.DAVE0001 (shown as "
        "d\\*\\*\\*&#64;example.com, domain example.com) as viewer to ENTITY1AA1AA11AAA1"
    ) in pr["body"]
    assert "@example.com" not in pr["body"] and "ADMIN" not in pr["body"]
    # Opened with the workflow's own token: GitHub starts no workflow for it (no plan, and
    # merging it could not be applied). The examples open it with a GitHub App's token.
    assert pr["author"] == "github-actions[bot]" and pr["workflows_started"] is False


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("git") is None, reason="needs jq and git"
)
def test_adopt_marks_an_admin_grant_in_the_pull_request(workdir: Path, tmp_path: Path) -> None:
    """A console admin adopted into the manifests is marked ADMIN, with the domain of the
    address Amazon shows: a reviewer cannot miss it or take it for a viewer."""
    world = World.load(workdir / "sandbox.json")
    account = world.amc[ACME]
    world.amc[ACME] = dataclasses.replace(
        account,
        users=tuple(
            dataclasses.replace(u, role="ADMIN") if u.user_id == "amzn1.account.DAVE0001" else u
            for u in account.users
        ),
    )
    world.save(workdir / "sandbox.json")
    github_origin(tmp_path, workdir)
    state = tmp_path / "github.json"
    env = {"GITHUB_TOKEN": "fake-token", "FAKE_GH_STATE": str(state), **github_server(tmp_path)}
    runner = _runner(workdir, env=env, command="adopt")
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    assert runner.run("run").outputs["exit-code"] == "2"
    assert runner.run("pull-request").code == 0
    [pr] = json.loads(state.read_text())["prs"]
    assert (
        "- **ADMIN** adopted: manifests/amc/acme-amc.yaml: added amzn1.account.DAVE0001 (shown "
        "as d\\*\\*\\*&#64;example.com, domain example.com) as ADMIN to ENTITY1AA1AA11AAA1"
    ) in pr["body"]
    assert (
        "> [!WARNING]\n> 1 change(s) above involve admin access (marked **ADMIN**)." in (pr["body"])
    )


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("git") is None, reason="needs jq and git"
)
def test_pin_opens_one_pull_request_with_the_proven_pins(workdir: Path, tmp_path: Path) -> None:
    """The scheduled pin job: the pins plan proposes (a one-to-one fit, the same role), in
    one pull request, so nobody needs production credentials on a laptop to pin."""
    origin = github_origin(tmp_path, workdir)
    state = tmp_path / "github.json"
    env = {"GITHUB_TOKEN": "fake-token", "FAKE_GH_STATE": str(state), **github_server(tmp_path)}
    runner = _runner(workdir, env=env, command="pin")
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    done = runner.run("run")
    assert done.code == 0 and done.outputs["exit-code"] == "2", done.log
    assert "alice" not in done.log  # who was pinned goes to the pull request only
    opened = runner.run("pull-request")
    assert opened.code == 0, opened.log
    assert "opened a pull request from reconciler/pin into main" in opened.stdout
    [pr] = json.loads(state.read_text())["prs"]
    assert pr["title"] == "reconciler: pin the people proven live"
    assert (
        "- pinned manifests/amc/acme-amc.yaml:10: a\\*\\*\\*&#64;example.com -&gt; userId: "
        "amzn1.account.ALICE0001 (a\\*\\*\\*&#64;example.com)"
    ) in pr["body"]
    pinned = _git(origin, "show", "reconciler/pin:manifests/amc/acme-amc.yaml")
    assert 'userId: "amzn1.account.ALICE0001"' in pinned


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
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    assert runner.run("run").code == 0
    first = runner.run("comment")
    assert first.code == 0, first.log
    assert "posted the plan as a comment on PR #42" in first.stdout
    # Someone else comments; then a push re-plans: the same comment is updated.
    held = json.loads(state.read_text())
    held["comments"].append({"id": 7, "issue": 42, "body": "LGTM", "user": {"login": "ann"}})
    state.write_text(json.dumps(held))
    _applier(workdir).run("run")
    assert runner.run("run").code == 0
    second = runner.run("comment")
    assert second.code == 0, second.log
    assert "updated the plan comment 1000 on PR #42" in second.stdout
    comments = json.loads(state.read_text())["comments"]
    assert [c["id"] for c in comments] == [1000, 7]
    assert comments[0]["body"].startswith("<!-- reconciler-plan -->\n")
    assert "No changes" in comments[0]["body"]


@pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh filters with jq")
def test_a_planted_marker_comment_by_another_author_is_left_alone(
    workdir: Path, tmp_path: Path
) -> None:
    """Anyone can write a comment that starts with the marker ("No changes, approve!"): it
    is never taken for the plan, never overwritten, and the job does not fail on it."""
    planted = {
        "id": 5,
        "issue": 42,
        "body": "<!-- reconciler-plan -->\n## reconciler plan\n\n**No changes.**",
        "user": {"login": "mallory"},
    }
    state = tmp_path / "github.json"
    state.write_text(json.dumps({"comments": [planted]}))
    env = {"GITHUB_TOKEN": "fake-token", "FAKE_GH_STATE": str(state)}
    runner = _runner(workdir, env=env, command="plan")
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    assert runner.run("run").code == 0
    first = runner.run("comment")
    assert first.code == 0, first.log
    assert "posted the plan as a comment on PR #42" in first.stdout
    again = runner.run("comment")
    assert again.code == 0, again.log
    assert "updated the plan comment 1001 on PR #42" in again.stdout
    comments = json.loads(state.read_text())["comments"]
    assert comments[0] == planted
    assert [(c["id"], c["user"]["login"]) for c in comments] == [
        (5, "mallory"),
        (1001, "github-actions[bot]"),
    ]
    assert "invite carol&#64;example.com as viewer" in comments[1]["body"]
    # Posting as a GitHub App: its own login is the author to look for.
    held = json.loads(state.read_text())
    state.write_text(json.dumps({**held, "tokens": {"ghs-app": "reconciler-app[bot]"}}))
    app = _runner(
        workdir,
        env={**env, "GITHUB_TOKEN": "ghs-app"},
        command="plan",
        **{"comment-author": "reconciler-app[bot]"},
    )
    app.env["PATH"] = runner.env["PATH"]
    assert app.run("run").code == 0
    posted = app.run("comment")
    assert "posted the plan as a comment on PR #42" in posted.stdout, posted.log
    assert len(json.loads(state.read_text())["comments"]) == 3


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


def test_apply_needs_a_token_to_fetch_the_reviewed_plan(workdir: Path) -> None:
    done = _runner(workdir, command="apply").run("fetch-plan")
    assert done.code == 1
    assert "no github-token to fetch the plan the merged pull request's plan run uploaded" in (
        done.stdout
    )
    assert "path" not in done.outputs


MERGE_SHA, HEAD_SHA = "a1b2c3", "6dcb09b5b57875f334f61aebed695e2e4193db5e"
ARTIFACT = f"reconciler-plan-42-{HEAD_SHA}"


def _named(run: int, attempt: int = 1) -> str:
    """The plan artifact's name as the upload step gives it: PR, head, run id, attempt."""
    return f"{ARTIFACT}-{run}-{attempt}"


def _merged_pr_state(reviewed: str, *extra_runs: dict[str, object]) -> dict[str, object]:
    """GitHub after PR #42 merged as MERGE_SHA: its plan run (pull_request_target, this
    workflow, success) uploaded `reviewed`."""
    plan_run = {"event": "pull_request_target", "status": "success", "head_sha": "9049f126"}
    return {
        "comments": [],
        "pulls": [
            {"number": 41, "merged_at": None, "commits": [MERGE_SHA]},
            {"number": 42, "merged_at": "2026-01-02T03:04:05Z", "commits": [MERGE_SHA],
             "head": {"sha": HEAD_SHA}},
        ],
        "runs": [
            {"id": 301, "name": "lint", **plan_run, "path": ".github/workflows/lint.yml",
             "artifacts": {}},
            {"id": 302, "name": "reconciler", **plan_run,
             "artifacts": {_named(302): {"plan.json": reviewed}}},
            *extra_runs,
        ],
    }  # fmt: skip


def _apply_env(state: Path) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": "fake-token",
        "FAKE_GH_STATE": str(state),
        "GITHUB_SHA": MERGE_SHA,
        "GITHUB_WORKFLOW": "reconciler",
        "GITHUB_WORKFLOW_REF": (
            "example-org/ads-access/.github/workflows/reconciler.yml@refs/heads/main"
        ),
        "GITHUB_EVENT_NAME": "push",
    }


@pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh filters with jq")
def test_apply_fetches_the_merged_pull_requests_plan(workdir: Path, tmp_path: Path) -> None:
    assert _runner(workdir, command="plan").run("run").code == 0
    reviewed = (workdir / "plan.json").read_text(encoding="utf-8")
    (workdir / "plan.json").unlink()  # apply runs on a fresh runner
    state = tmp_path / "github.json"
    state.write_text(json.dumps(_merged_pr_state(reviewed)))
    runner = _runner(workdir, env=_apply_env(state), command="apply")
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    fetched = runner.run("fetch-plan")
    assert fetched.code == 0, fetched.log
    assert "fetched the plan of PR #42 from run 302" in fetched.stdout
    assert fetched.outputs["path"] == str(runner.temp / "reconciler" / "reviewed-plan.json")
    applied = runner.run("run")
    assert applied.code == 0, applied.log
    assert applied.outputs["exit-code"] == "0"


@pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh filters with jq")
def test_apply_ignores_a_plan_json_committed_to_the_checkout(workdir: Path, tmp_path: Path) -> None:
    """A plan.json in the checkout is whatever someone committed: apply never reads it, not
    even when it is a real plan, and never writes through it (a link to elsewhere)."""
    assert _runner(workdir, command="plan").run("run").code == 0
    reviewed = (workdir / "plan.json").read_text(encoding="utf-8")
    committed = '{"formatVersion": 2, "actions": []}'
    (workdir / "plan.json").write_text(committed, encoding="utf-8")
    state = tmp_path / "github.json"
    state.write_text(json.dumps(_merged_pr_state(reviewed)))
    runner = _runner(workdir, env=_apply_env(state), command="apply")
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    fetched = runner.run("fetch-plan")
    assert fetched.code == 0, fetched.log
    assert "ignoring plan.json in the checkout" in fetched.stdout
    assert "fetched the plan of PR #42 from run 302" in fetched.stdout
    assert (workdir / "plan.json").read_text(encoding="utf-8") == committed
    applied = runner.run("run")
    assert applied.code == 0 and applied.outputs["exit-code"] == "0", applied.log
    # With no run of the merged pull request, the committed file is still not used.
    state.write_text(json.dumps({**_merged_pr_state(reviewed), "runs": []}))
    again = _runner(workdir, env=_apply_env(state), command="apply")
    again.env["PATH"] = runner.env["PATH"]
    missing = again.run("fetch-plan")
    assert missing.code == 1
    assert (
        "no successful plan run of .github/workflows/reconciler.yml for PR #42 "
        f"(head {HEAD_SHA}): re-run its plan"
    ) in missing.stdout
    assert "path" not in missing.outputs
    refused = again.run("run")
    assert refused.code == 1 and "no reviewed plan was fetched" in refused.stdout


@pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh filters with jq")
def test_apply_takes_the_plan_only_from_this_workflows_pull_request_target_run(
    workdir: Path, tmp_path: Path
) -> None:
    """An artifact of the right name is not enough: a branch's edited workflow can upload one
    from a `pull_request` run, another workflow file from its own, and a run that failed
    proves nothing. Only this workflow's successful pull_request_target run counts."""
    assert _runner(workdir, command="plan").run("run").code == 0
    reviewed = (workdir / "plan.json").read_text(encoding="utf-8")

    def forged(run: int) -> dict[str, dict[str, str]]:
        return {_named(run): {"plan.json": "forged"}}

    decoys = [
        {"id": 303, "name": "reconciler", "event": "pull_request", "status": "success",
         "artifacts": forged(303)},
        {"id": 304, "name": "reconciler", "event": "pull_request_target", "status": "success",
         "path": ".github/workflows/other.yml", "artifacts": forged(304)},
        {"id": 305, "name": "reconciler", "event": "pull_request_target", "status": "failure",
         "artifacts": forged(305)},
        # A newer successful run holding an artifact named for run 302: not its own upload.
        {"id": 306, "name": "reconciler", "event": "pull_request_target", "status": "success",
         "artifacts": {_named(302, 2): {"plan.json": "forged"}}},
    ]  # fmt: skip
    state = tmp_path / "github.json"
    state.write_text(json.dumps(_merged_pr_state(reviewed, *decoys)))
    runner = _runner(workdir, env=_apply_env(state), command="apply")
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    fetched = runner.run("fetch-plan")
    assert fetched.code == 0, fetched.log
    assert "fetched the plan of PR #42 from run 302" in fetched.stdout
    assert Path(fetched.outputs["path"]).read_text(encoding="utf-8") == reviewed


@pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh filters with jq")
def test_a_rerun_plan_is_fetched_from_its_own_attempt(workdir: Path, tmp_path: Path) -> None:
    """Each attempt uploads under its own name (run id and attempt appended), so a re-run
    never clashes with an earlier attempt's artifact; apply takes the upload of the attempt
    whose success it checked (the run's latest), never an earlier attempt's."""
    assert _runner(workdir, command="plan").run("run").code == 0
    reviewed = (workdir / "plan.json").read_text(encoding="utf-8")
    state_value = _merged_pr_state(reviewed)
    runs = state_value["runs"]
    assert isinstance(runs, list)
    runs[1] = {**runs[1], "run_attempt": 2,
               "artifacts": {_named(302, 1): {"plan.json": "attempt 1"},
                             _named(302, 2): {"plan.json": reviewed}}}  # fmt: skip
    state = tmp_path / "github.json"
    state.write_text(json.dumps(state_value))
    runner = _runner(workdir, env=_apply_env(state), command="apply")
    runner.env["PATH"] = f"{fake_gh_bin(tmp_path)}{os.pathsep}{runner.env['PATH']}"
    fetched = runner.run("fetch-plan")
    assert fetched.code == 0, fetched.log
    assert "fetched the plan of PR #42 from run 302" in fetched.stdout
    assert Path(fetched.outputs["path"]).read_text(encoding="utf-8") == reviewed
    # Only attempt 1's upload there, while attempt 2 is the run's conclusion: nothing.
    runs[1] = {**runs[1], "artifacts": {_named(302, 1): {"plan.json": reviewed}}}
    state.write_text(json.dumps(state_value))
    missing = runner.run("fetch-plan")
    assert missing.code == 1 and "no successful plan run" in missing.stdout, missing.log


@pytest.mark.parametrize(
    ("command", "event"),
    [("drift", "schedule"), ("plan", "push"), ("apply", "pull_request_target")],
)
def test_merge_base_is_only_for_a_pull_requests_plan(
    workdir: Path, command: str, event: str
) -> None:
    """`changed-since: merge-base` means the pull request's: anywhere else it is refused,
    never read as a git revision."""
    runner = _runner(workdir, {"GITHUB_EVENT_NAME": event}, command=command)
    runner.inputs["changed-since"] = "merge-base"
    done = runner.run("since")
    assert done.code == 1 and "ref" not in done.outputs
    assert (
        f"::error title=reconciler {command}::changed-since: merge-base is for plan on a pull "
        "request; give a commit instead"
    ) in done.stdout


def test_replan_and_apply_needs_a_commit_to_replan_from(workdir: Path) -> None:
    """Outside a git checkout (or on a root commit) there is no first parent: it says so
    and applies nothing."""
    done = _runner(workdir, command="replan-and-apply").run("since")
    assert done.code == 1 and "ref" not in done.outputs
    assert (
        "the commit checked out has no parent to re-plan from: give changed-since (and check "
        "out with fetch-depth: 0)"
    ) in done.stdout


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
    """The example's drift job finds the head of the last successful apply run
    with `gh run list` and passes it as `baseline:`: a console change is told from a merged
    change not applied yet."""
    _git(workdir, "init", "--quiet", "-b", "main")
    applied = _commit(workdir, "A")
    assert _runner(workdir, command="plan").run("run").code == 0
    assert _applier(workdir).run("run").outputs["exit-code"] == "0"
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
    fake = f"{fake_gh_bin(tmp_path)}{os.pathsep}"
    example = REPO / "examples" / "ci" / "github-actions.yml"
    found = run_workflow_step(
        example, "drift", "applied", workdir, {**env, "PATH": fake + os.environ["PATH"]}
    )
    assert found.code == 0, found.log
    assert found.outputs["sha"] == applied
    drift = _runner(workdir, command="drift", baseline=found.outputs["sha"]).run("run")
    assert drift.code == 1 and drift.outputs["exit-code"] == "2", drift.log
    assert f"[changed behind git's back] amc:{ACME}: set role of erin@example.com" in drift.stdout
    assert f"[not applied yet] amc:{ACME}: invite zoe@example.com" in drift.stdout
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
