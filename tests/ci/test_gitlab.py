"""The GitLab template's job scripts, run with bash as GitLab's runner does, against the
sandbox: the plan job accepts exactly 0 and 2, says why otherwise, and leaves its dotenv."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import World
from tests.ci.fake_gitlab import PROJECT, TOKEN, GitLab, Variable, archive_of, serve, variables_for
from tests.ci.steps import GITLAB_TEMPLATE, REPO, run_gitlab_job

MR = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "examples" / "manifests", tmp_path / "manifests")
    World.default().save(tmp_path / "sandbox.json")
    return tmp_path


HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
PLAN_SCHEDULE = {
    "CI_PIPELINE_SOURCE": "schedule",
    "CI_COMMIT_BRANCH": "main",
    "CI_DEFAULT_BRANCH": "main",
    "RECONCILER_PLAN": "merge-requests",
    "RECONCILER_ARGS": "--sandbox",
}


def _main_clone(workdir: Path, *, with_manifests: bool = False) -> str:
    """`workdir` as the plan job's clone of main (GIT_DEPTH 0): one commit, holding the
    manifests or (by default) none yet, so that a merge request branched from it changes
    every account. Its sha: the merge base."""
    if not (workdir / ".git").exists():
        _git(workdir, "init", "--quiet", "-b", "main")
        _git(workdir, "config", "user.email", "t@example.com")
        _git(workdir, "config", "user.name", "t")
        _git(workdir, "config", "commit.gpgsign", "false")
        if with_manifests:
            _git(workdir, "add", "manifests")
        _git(workdir, "commit", "--quiet", "--allow-empty", "-m", "main")
    return _git(workdir, "rev-parse", "HEAD").strip()


def _open_mr(
    workdir: Path, folder: Path = REPO / "examples" / "manifests", **archive: Any
) -> GitLab:
    """Merge request !7 into main, branched from `workdir`'s main, its head HEAD holding the
    manifests in `folder` (the examples')."""
    base = _main_clone(workdir)
    mr = {"iid": 7, "state": "opened", "target_branch": "main", "sha": HEAD,
          "diff_refs": {"base_sha": base, "head_sha": HEAD, "start_sha": base}}  # fmt: skip
    return GitLab(merge_requests=[mr], archives={HEAD: archive_of(folder, HEAD, **archive)})


def test_validate_job_runs_on_merge_requests_and_fails_on_bad_manifests(workdir: Path) -> None:
    done = run_gitlab_job("reconciler:validate", workdir, MR)
    assert done.code == 0, done.log
    assert done.outputs["RECONCILER_EXIT_CODE"] == "0"
    (workdir / "manifests" / "bad.yaml").write_text("version: 2\n", encoding="utf-8")
    bad = run_gitlab_job("reconciler:validate", workdir, MR)
    assert bad.code != 0 and bad.outputs["RECONCILER_EXIT_CODE"] == "1"
    assert "reconciler validate failed (exit 1)" in bad.stderr


def test_plan_job_plans_each_open_merge_request_from_its_manifests(workdir: Path) -> None:
    """On the default branch, the merge request's manifests fetched as data (not the
    checkout's: here those are deleted), planned, posted, kept with the head they are of."""
    shutil.rmtree(workdir / "manifests")
    with serve(_open_mr(workdir)) as gitlab:
        done = run_gitlab_job("reconciler:plan", workdir, {**PLAN_SCHEDULE, **_api(gitlab)})
    assert done.code == 0, done.log
    assert done.outputs["RECONCILER_EXIT_CODE"] == "0"
    assert f"!7 (head {HEAD[:12]}): plan exit 2" in done.stdout
    assert "posted the plan as a note on !7" in done.stdout
    assert "planned 1 merge request(s)" in done.stdout
    plans = workdir / "plans" / "7"
    assert (plans / "head").read_text().strip() == HEAD
    plan = json.loads((plans / "plan.json").read_text(encoding="utf-8"))
    assert plan["actions"] and plan["bindings"]["commit"] == HEAD
    assert (plans / "plan.json.digest").read_text().strip() == plan["planDigest"]
    (note,) = gitlab.notes[7]
    assert note["body"].startswith("<!-- reconciler-plan -->\n## reconciler plan")
    assert "invite carol&#64;example.com as viewer" in note["body"]  # in the manifests
    assert "d\\*\\*\\*&#64;example.com" in note["body"]  # live only: masked


def test_plan_job_refuses_a_merge_request_whose_manifests_hold_a_link(workdir: Path) -> None:
    with serve(_open_mr(workdir, link=("x.yaml", "/proc/self/environ"))) as gitlab:
        done = run_gitlab_job("reconciler:plan", workdir, {**PLAN_SCHEDULE, **_api(gitlab)})
    assert done.code != 0
    assert (
        "!7: not planned: its manifests hold a link or special file, which plan never reads: "
        "manifests/x.yaml"
    ) in done.stderr
    assert "not planned, or refused: !7" in done.stderr
    assert not (workdir / "plans" / "7" / "plan.json").exists()
    assert gitlab.notes.get(7, []) == []


@pytest.mark.parametrize(
    ("args", "posted"),
    [("--sandbox --no-such-flag", False), ("--sandbox --max-removals 0", True)],
)
def test_plan_job_fails_on_anything_but_0_and_2(workdir: Path, args: str, posted: bool) -> None:
    """A refused plan is posted (who would lose access is shown) and kept from apply."""
    with serve(_open_mr(workdir)) as gitlab:
        variables = {**PLAN_SCHEDULE, **_api(gitlab), "RECONCILER_ARGS": args}
        done = run_gitlab_job("reconciler:plan", workdir, variables)
    assert done.code != 0
    assert done.outputs["RECONCILER_EXIT_CODE"] == "1"
    assert "not planned, or refused: !7 (see above)" in done.stderr
    assert not (workdir / "plans" / "7" / "plan.json").exists()
    if posted:
        (note,) = gitlab.notes[7]
        assert "REFUSED by 1 guard" in note["body"]
    else:
        assert gitlab.notes.get(7, []) == []


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


def test_plan_note_is_ours_alone_created_once_then_updated(workdir: Path) -> None:
    """The note is found by marker AND author (the token's user): a note anyone else wrote
    with the marker is left alone."""
    planted = {"id": 5, "body": "<!-- reconciler-plan -->\nNo changes.", "author": {"id": 9}}
    with serve(_open_mr(workdir)) as gitlab:
        gitlab.notes[7] = [dict(planted), {"id": 6, "body": "looks good", "author": {"id": 9}}]
        variables = {**PLAN_SCHEDULE, **_api(gitlab)}
        first = run_gitlab_job("reconciler:plan", workdir, variables)
        assert first.code == 0, first.log
        assert "posted the plan as a note on !7" in first.stdout
        second = run_gitlab_job("reconciler:plan", workdir, variables)
        assert second.code == 0, second.log
        assert "updated the plan note 902 on !7" in second.stdout
    notes = gitlab.notes[7]
    assert [n["id"] for n in notes] == [5, 6, 902]
    assert notes[0] == planted
    assert notes[2]["body"].startswith("<!-- reconciler-plan -->\n")


def _planned_state(reviewed: bytes, *jobs: dict[str, Any]) -> GitLab:
    """!7 merged as `merged`; the plan schedule's job 111 on main planned its head HEAD."""
    return GitLab(
        merge_requests=[{"iid": 7, "state": "merged", "sha": HEAD, "commits": ["c0ffee", HEAD]}],
        project_jobs=[
            *jobs,
            {"id": 111, "name": "reconciler:plan", "ref": "main", "status": "success"},
        ],
        artifacts={(111, "plans/7/plan.json"): reviewed, (111, "plans/7/head"): HEAD.encode()},
    )


def _reviewed_plan(workdir: Path) -> bytes:
    with serve(_open_mr(workdir)) as gitlab:
        done = run_gitlab_job("reconciler:plan", workdir, {**PLAN_SCHEDULE, **_api(gitlab)})
    assert done.code == 0, done.log
    reviewed = (workdir / "plans" / "7" / "plan.json").read_bytes()
    shutil.rmtree(workdir / "plans")  # apply runs on a fresh runner
    return reviewed


def test_apply_fetches_the_plan_of_the_merged_mrs_head(workdir: Path) -> None:
    """Only a successful plan job of the default branch that planned the MR's final head:
    not a job of the same name on another branch (a branch names its jobs as it likes), not
    a plan of an older head, not a plan.json committed to the checkout."""
    reviewed = _reviewed_plan(workdir)
    (workdir / "plan.json").write_text('{"formatVersion": 2}', encoding="utf-8")
    decoys = [
        {"id": 130, "name": "reconciler:plan", "ref": "add-carol", "status": "success"},
        {"id": 120, "name": "reconciler:plan", "ref": "main", "status": "success"},
    ]
    state = _planned_state(reviewed, *decoys)
    state.artifacts |= {
        (130, "plans/7/plan.json"): b"forged",
        (130, "plans/7/head"): HEAD.encode(),
        (120, "plans/7/plan.json"): b"older",
        (120, "plans/7/head"): b"0123abcd",
    }
    with serve(state) as gitlab:
        variables = {**_api(gitlab, CI_COMMIT_SHA="c0ffee"), "RECONCILER_ARGS": "--sandbox"}
        done = run_gitlab_job("reconciler:apply", workdir, variables)
    assert done.code == 0, done.log
    assert f"fetched the plan of !7 (head {HEAD[:12]}) from job 111" in done.stdout
    assert done.outputs["RECONCILER_EXIT_CODE"] == "0"
    assert (workdir / "reconciler-apply" / "plan.json").read_bytes() == reviewed
    assert (workdir / "reconciler-apply" / "journal.jsonl").read_text(encoding="utf-8").strip()
    assert (workdir / "plan.json").read_text(encoding="utf-8") == '{"formatVersion": 2}'


def test_apply_without_a_plan_of_the_merged_head_applies_nothing(workdir: Path) -> None:
    reviewed = _reviewed_plan(workdir)
    state = _planned_state(reviewed)
    state.artifacts[(111, "plans/7/head")] = b"0123abcd"  # planned before the last push
    with serve(state) as gitlab:
        variables = {**_api(gitlab, CI_COMMIT_SHA="c0ffee"), "RECONCILER_ARGS": "--sandbox"}
        done = run_gitlab_job("reconciler:apply", workdir, variables)
    assert done.code != 0
    assert (
        f"no successful reconciler:plan job on main planned !7 at its head {HEAD[:12]}: run "
        "the plan schedule, then re-run this job"
    ) in done.stderr
    assert not (workdir / "reconciler-apply" / "journal.jsonl").exists()


def test_apply_without_a_merged_mr_applies_nothing_and_says_why(workdir: Path) -> None:
    with serve(GitLab()) as gitlab:
        variables = {**_api(gitlab, CI_COMMIT_SHA="deadbeef"), "RECONCILER_ARGS": "--sandbox"}
        done = run_gitlab_job("reconciler:apply", workdir, variables)
    assert done.code != 0
    assert "no merged merge request for deadbeef" in done.stderr
    assert not (workdir / "reconciler-apply" / "journal.jsonl").exists()


AMAZON_VARIABLES = {
    "AMAZON_ADS_CLIENT_ID": Variable("amzn1.application-oa2-client.REAL"),
    "AMAZON_ADS_CLIENT_SECRET": Variable("REAL-CLIENT-SECRET"),
    "AMAZON_ADS_REFRESH_TOKEN": Variable("Atzr|REAL-REFRESH-TOKEN"),
    "GITLAB_API_TOKEN": Variable(TOKEN),
}


def test_a_branch_edited_pipeline_gets_no_credential(workdir: Path) -> None:
    """A merge-request pipeline runs the branch's .gitlab-ci.yml, so the branch can make a
    job print its environment: with every credential protected and only main protected,
    there is nothing to print. The plan schedule on main gets them, and uses them."""
    protected = frozenset({"main"})
    script = workdir / "edited.sh"
    script.write_text("env\n", encoding="utf-8")
    branch = variables_for(AMAZON_VARIABLES, ref="add-carol", protected_branches=protected)
    done = subprocess.run(
        ["bash", str(script)],
        env={**os.environ, **branch},
        capture_output=True,
        text=True,
        check=True,
    )
    for variable in AMAZON_VARIABLES.values():
        assert variable.value not in done.stdout
    assert branch == {}
    # The same project's default branch: the plan job receives them and talks to GitLab.
    main = variables_for(AMAZON_VARIABLES, ref="main", protected_branches=protected)
    assert set(main) == set(AMAZON_VARIABLES)
    with serve(_open_mr(workdir)) as gitlab:
        variables = {**PLAN_SCHEDULE, **_api(gitlab), **main}
        planned = run_gitlab_job("reconciler:plan", workdir, variables)
    assert planned.code == 0, planned.log
    assert "posted the plan as a note on !7" in planned.stdout
    # The template says so: every job that reads live state runs only on the default
    # branch or on a schedule (which runs on a protected branch), never for a merge request.
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text(encoding="utf-8"))
    for job in ("reconciler:plan", "reconciler:apply", "reconciler:drift", "reconciler:adopt"):
        for rule in template[job]["rules"]:
            assert "merge_request_event" not in rule["if"], job
    (validate_rule,) = template["reconciler:validate"]["rules"]
    assert "merge_request_event" in validate_rule["if"]
    assert "reconciler plan" not in str(template["reconciler:validate"]["script"])


def test_each_schedule_runs_only_its_own_job() -> None:
    """A schedule is told apart by its variable (RECONCILER_PLAN, RECONCILER_ADOPT,
    RECONCILER_PEOPLE); the nightly drift runs only on a schedule that sets none of them, so
    the review schedule does not also run drift."""
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text(encoding="utf-8"))
    scheduled = [r["if"] for r in template["reconciler:drift"]["rules"] if "schedule" in r["if"]]
    assert scheduled, "drift runs on a schedule"
    for rule in scheduled:
        for variable in ("RECONCILER_PLAN", "RECONCILER_ADOPT", "RECONCILER_PEOPLE"):
            assert f'${variable} == ""' in rule, (variable, rule)


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
    assert "d\\*\\*\\*&#64;example.com, domain example.com) as viewer" in mr["description"]
    assert "@example.com" not in mr["description"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pin_job_opens_one_merge_request_with_the_proven_pins(
    workdir: Path, tmp_path: Path
) -> None:
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "--quiet", "--bare", str(origin))
    _git(workdir, "init", "--quiet", "-b", "main")
    _git(workdir, "-c", "user.name=t", "-c", "user.email=t@x", "add", "manifests")
    _git(workdir, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "--quiet", "-m", "m")
    schedule = {
        "CI_PIPELINE_SOURCE": "schedule",
        "RECONCILER_ADOPT": "pin",
        "RECONCILER_BASELINE": "last-apply",  # pin takes none: no lookup, no token needed
        "RECONCILER_ARGS": "--sandbox",
        "RECONCILER_PUSH_URL": str(origin),
        "CI_DEFAULT_BRANCH": "main",
    }
    with serve(GitLab()) as gitlab:
        done = run_gitlab_job("reconciler:adopt", workdir, {**schedule, **_api(gitlab)})
    assert done.code == 0 and done.outputs["RECONCILER_EXIT_CODE"] == "2", done.log
    assert "opened merge request !30 from reconciler/pin into main" in done.stdout
    [mr] = gitlab.opened
    assert mr["title"] == "reconciler: pin the people proven live"
    assert "userId: amzn1.account.ALICE0001 (a\\*\\*\\*&#64;example.com)" in mr["description"]
    pinned = _git(origin, "show", "reconciler/pin:manifests/amc/acme-amc.yaml")
    assert 'userId: "amzn1.account.ALICE0001"' in pinned


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_drift_job_tells_changes_apart_with_reconciler_baseline(workdir: Path) -> None:
    """RECONCILER_BASELINE (the last applied commit) labels each change."""
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


# --------------------------------------------------------------------------------------------
# Merge requests are planned with --changed-since their merge base; the merged plan applies
# over its accounts whatever moved elsewhere; a refused one is recovered by one manual job.
# --------------------------------------------------------------------------------------------

ACME = "ENTITY1AA1AA11AAA1"
GLOBEX = "amzn1.ads1.ma1.sandbox000002"
ZED = "      - {email: zed@example.com, name: Zed, role: viewer}\n"


def _reconciler(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "--sandbox"],
        cwd=workdir,
        env={**os.environ, "RECONCILER_SANDBOX_STATE": str(workdir / "sandbox.json")},
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 2), done.stdout + done.stderr
    return done


def _with_zed(folder: Path) -> Path:
    """`folder` with zed invited on Acme's AMC account: the merge request's one change."""
    amc = folder / "amc" / "acme-amc.yaml"
    amc.write_text(amc.read_text(encoding="utf-8") + ZED, encoding="utf-8")
    return folder


def _zed_invited(workdir: Path) -> bool:
    world = World.load(workdir / "sandbox.json")
    return any(i.email == "zed@example.com" for i in world.amc[ACME].invitations)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_plan_job_plans_only_what_the_merge_request_changes(workdir: Path, tmp_path: Path) -> None:
    _reconciler(workdir, "apply", "--auto-approve", "manifests")  # live is what main says
    base = _main_clone(workdir, with_manifests=True)
    changed = _with_zed(Path(shutil.copytree(REPO / "examples" / "manifests", tmp_path / "mr")))
    with serve(_open_mr(workdir, changed)) as gitlab:
        done = run_gitlab_job("reconciler:plan", workdir, {**PLAN_SCHEDULE, **_api(gitlab)})
    assert done.code == 0, done.log
    assert f"!7: planned the accounts changed since its merge base {base}" in done.stdout
    assert f"!7 (head {HEAD[:12]}): plan exit 2" in done.stdout
    plan = json.loads((workdir / "plans" / "7" / "plan.json").read_text(encoding="utf-8"))
    assert plan["coverage"]["commit"] == base
    assert [a["scope"] for a in plan["coverage"]["accounts"]] == [f"amc:{ACME}"]
    (note,) = gitlab.notes[7]
    assert "Covers 1 account changed since" in note["body"]
    reviewed = (workdir / "plans" / "7" / "plan.json").read_bytes()
    shutil.rmtree(workdir / "plans")

    # Someone unlinks an advertiser from Globex Brands in the console (not the change's
    # account), then !7 is merged: its plan applies all the same.
    world = World.load(workdir / "sandbox.json")
    manager = world.managers[GLOBEX]
    links = tuple(link for link in manager.links if link.account_id != "ENTITY1ACME0006")
    world.managers[GLOBEX] = dataclasses.replace(manager, links=links)
    world.save(workdir / "sandbox.json")
    _with_zed(workdir / "manifests")
    with serve(_planned_state(reviewed)) as gitlab:
        variables = {**_api(gitlab, CI_COMMIT_SHA="c0ffee"), "RECONCILER_ARGS": "--sandbox"}
        applied = run_gitlab_job("reconciler:apply", workdir, variables)
    assert applied.code == 0, applied.log
    assert applied.outputs["RECONCILER_EXIT_CODE"] == "0"
    assert _zed_invited(workdir)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_plan_job_plans_nothing_from_a_merge_base_outside_the_default_branch(
    workdir: Path,
) -> None:
    """A merge base that is not in the clone's history (a shallow clone, or a sha GitLab
    has not computed for this head) is never guessed: the merge request is not planned."""
    state = _open_mr(workdir)
    state.merge_requests[0]["diff_refs"]["base_sha"] = "0123456789abcdef0123456789abcdef01234567"
    with serve(state) as gitlab:
        done = run_gitlab_job("reconciler:plan", workdir, {**PLAN_SCHEDULE, **_api(gitlab)})
    assert done.code != 0 and done.outputs["RECONCILER_EXIT_CODE"] == "1"
    assert (
        "!7: not planned: its merge base 0123456789ab is not in this clone's history of main: "
        'set GIT_DEPTH: "0" on this job'
    ) in done.stderr
    assert gitlab.notes.get(7, []) == []
    state = _open_mr(workdir)
    state.merge_requests[0]["diff_refs"]["head_sha"] = "an older head"
    with serve(state) as gitlab:
        done = run_gitlab_job("reconciler:plan", workdir, {**PLAN_SCHEDULE, **_api(gitlab)})
    assert f"!7: not planned: GitLab has no diff of its head {HEAD[:12]} yet" in done.stderr
    assert not (workdir / "plans" / "7" / "plan.json").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_reapply_job_replans_since_the_merge_and_applies(workdir: Path) -> None:
    """The manual job of the push pipeline: the accounts changed since the merge's first
    parent, re-planned on the default branch, shown with the digest, applied."""
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text(encoding="utf-8"))
    job = template["reconciler:reapply"]
    assert job["rules"] == [
        {
            "if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"',
            "when": "manual",
            "allow_failure": True,
        }
    ]
    assert job["environment"] == "amazon-ads"
    assert job["resource_group"] == template["reconciler:apply"]["resource_group"]
    assert job["variables"]["GIT_DEPTH"] == "0"
    _reconciler(workdir, "apply", "--auto-approve", "manifests")
    before = _main_clone(workdir, with_manifests=True)
    _with_zed(workdir / "manifests")
    _git(workdir, "commit", "--quiet", "-am", "Merge !7")
    done = run_gitlab_job("reconciler:reapply", workdir, {"RECONCILER_ARGS": "--sandbox"})
    assert done.code == 0, done.log
    assert f"re-planning the accounts changed since {before}" in done.stdout
    digest = done.outputs["RECONCILER_PLAN_DIGEST"]
    assert digest.startswith("sha256:") and f"Plan digest: {digest}" in done.stdout
    assert f"re-planned since {before}; plan digest {digest}" in done.stdout
    assert done.outputs["RECONCILER_EXIT_CODE"] == "0"
    assert "Covers 1 account changed since" in done.stdout
    assert _zed_invited(workdir)


def test_artifact_names_never_clash_on_a_retry() -> None:
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text(encoding="utf-8"))
    for job in ("reconciler:plan", "reconciler:apply", "reconciler:reapply"):
        name = template[job]["artifacts"]["name"]
        assert "$CI_PIPELINE_ID" in name and "$CI_JOB_ID" in name, job
