"""Run the shell steps of `action.yml` and of the GitLab template the way the runners do,
with bash, against the sandbox: no GitHub or GitLab needed.

GitHub: each `run:` step gets the environment a composite action step sees (GITHUB_OUTPUT,
GITHUB_STEP_SUMMARY, GITHUB_EVENT_PATH, RUNNER_TEMP, its `env:` with `${{ inputs.* }}`
resolved from the inputs and the action's defaults) and runs as `bash -e {0}`, like
`shell: bash`. The install step is not run: the test's own environment has reconciler.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).parents[2]
ACTION = REPO / "action.yml"
GITLAB_TEMPLATE = REPO / "ci" / "gitlab" / "reconciler.gitlab-ci.yml"
EVENT = Path(__file__).parent / "pull_request.json"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _base_env(workdir: Path) -> dict[str, str]:
    """No credential of the developer's can reach a run; reconciler first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AMAZON_ADS_", "GITHUB_", "GH_", "CI_", "GITLAB_"))
        and k != "RECONCILER_SANDBOX_STATE"
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["RECONCILER_SANDBOX_STATE"] = str(workdir / "sandbox.json")
    return env


@dataclass
class StepRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


class ActionRunner:
    """Runs `action.yml`'s steps by id in `workdir`, sharing RUNNER_TEMP across steps."""

    def __init__(self, workdir: Path, *, inputs: dict[str, str], env: dict[str, str]) -> None:
        self.action: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
        self.workdir = workdir
        defaults = {k: str(v.get("default", "")) for k, v in self.action["inputs"].items()}
        self.inputs = {**defaults, **inputs}
        self.temp = workdir / "runner-temp"
        self.temp.mkdir(exist_ok=True)
        self.outputs: dict[str, dict[str, str]] = {}  # by step id, as `steps.ID.outputs`
        self.env = {
            **_base_env(workdir),
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(REPO),
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(EVENT),
            "GITHUB_REPOSITORY": "example-org/ads-access",
            "GITHUB_STEP_SUMMARY": str(workdir / "step-summary.md"),
            "RUNNER_TEMP": str(self.temp),
            **env,
        }

    def step(self, step_id: str) -> dict[str, Any]:
        (step,) = [s for s in self.action["runs"]["steps"] if s.get("id") == step_id]
        return dict(step)

    def _resolve(self, value: str) -> str:
        def one(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("inputs."):  # a default may itself be an expression
                return self._resolve(self.inputs[expression.removeprefix("inputs.")])
            if expression == "github.token":
                return self.env.get("GITHUB_TOKEN", "")
            if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
                return self.outputs.get(m.group(1), {}).get(m.group(2), "")
            raise AssertionError(f"expression the test runner does not know: {expression}")

        return EXPRESSION.sub(one, value)

    def run(self, step_id: str) -> StepRun:
        step = self.step(step_id)
        assert step["shell"] == "bash"
        output = self.workdir / f"output-{step_id}"
        output.write_text("")
        env = {
            **self.env,
            **{k: self._resolve(str(v)) for k, v in step.get("env", {}).items()},
            "GITHUB_OUTPUT": str(output),
        }
        script = self.temp / f"{step_id}.sh"
        script.write_text(step["run"], encoding="utf-8")
        # `shell: bash` is `bash --noprofile --norc -eo pipefail {0}` on GitHub's runners.
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        self.outputs[step_id] = outputs
        return StepRun(done.returncode, done.stdout, done.stderr, outputs)


def gitlab_job_script(job: str) -> str:
    """The shell script GitLab would run for `job`: its before_script (without the install
    line) and script, under `set -eo pipefail` as GitLab's bash runner does."""
    template: dict[str, Any] = yaml.safe_load(GITLAB_TEMPLATE.read_text(encoding="utf-8"))
    base = template[template[job]["extends"]]
    before = [line for line in base["before_script"] if "pip install" not in line]
    return "\n".join(["set -eo pipefail", *before, *template[job]["script"]]) + "\n"


def gitlab_variables() -> dict[str, str]:
    template: dict[str, Any] = yaml.safe_load(GITLAB_TEMPLATE.read_text(encoding="utf-8"))
    return {k: str(v) for k, v in template["variables"].items()}


def run_gitlab_job(job: str, workdir: Path, variables: dict[str, str]) -> StepRun:
    env = {**_base_env(workdir), **gitlab_variables(), **variables}
    script = workdir / f"{job.replace(':', '-')}.sh"
    script.write_text(gitlab_job_script(job), encoding="utf-8")
    done = subprocess.run(
        ["bash", str(script)], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )
    dotenv = workdir / "reconciler.env"
    outputs = (
        dict(line.split("=", 1) for line in dotenv.read_text().splitlines() if "=" in line)
        if dotenv.exists()
        else {}
    )
    return StepRun(done.returncode, done.stdout, done.stderr, outputs)


def run_workflow_step(
    workflow: Path, job: str, step_id: str, workdir: Path, env: dict[str, str]
) -> StepRun:
    """Run one `run:` step of a workflow file (the examples) as GitHub would, with bash;
    `${{ github.token }}` and `${{ github.workflow }}` come from `env`."""
    steps = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"][job]["steps"]
    (step,) = [s for s in steps if s.get("id") == step_id]
    known = {"github.token": env.get("GITHUB_TOKEN", ""), "github.workflow": env["GITHUB_WORKFLOW"]}

    def resolve(value: str) -> str:
        return EXPRESSION.sub(lambda m: known[m.group(1)], value)

    output = workdir / f"output-{job}-{step_id}"
    output.write_text("")
    full = {
        **_base_env(workdir),
        "GITHUB_REPOSITORY": "example-org/ads-access",
        **env,
        **{k: resolve(str(v)) for k, v in step.get("env", {}).items()},
        "GITHUB_OUTPUT": str(output),
    }
    script = workdir / f"{job}-{step_id}.sh"
    script.write_text(step["run"], encoding="utf-8")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workdir,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return StepRun(done.returncode, done.stdout, done.stderr, outputs)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def github_origin(tmp_path: Path, workdir: Path) -> Path:
    """The repository on the stand-in GitHub (a bare repository under GITHUB_SERVER_URL),
    and `workdir` a checkout of its main."""
    origin = tmp_path / "server" / "example-org" / "ads-access.git"
    origin.parent.mkdir(parents=True, exist_ok=True)
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(workdir, "init", "--quiet", "-b", "main")
    git(workdir, "config", "user.email", "t@example.com")
    git(workdir, "config", "user.name", "t")
    git(workdir, "config", "commit.gpgsign", "false")
    git(workdir, "add", "manifests")
    git(workdir, "commit", "--quiet", "-m", "manifests")
    git(workdir, "push", "--quiet", str(origin), "main")
    return origin


def github_server(tmp_path: Path) -> dict[str, str]:
    return {"GITHUB_SERVER_URL": (tmp_path / "server").as_uri()}


def fake_gh_bin(tmp_path: Path) -> Path:
    """A folder with `gh`, the stand-in (tests/ci/fake_gh.py), to put first on PATH."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    gh = bin_dir / "gh"
    fake = Path(__file__).with_name("fake_gh.py")
    gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
    gh.chmod(0o755)
    return bin_dir
