"""A stand-in for how GitHub Actions hands secrets to jobs, for the README's settings: the
Amazon credentials live only in the environments `amazon-ads` and `amazon-ads-read`, each
limited to the branch main; the repository and organization hold none.

GitHub's rules, as this models them:
- which workflow file runs: `pull_request` and a push to a branch run that branch's file
  (what the branch made of it); `pull_request_target`, `schedule` and `workflow_dispatch`
  from main run main's file;
- the ref a job runs for: `refs/pull/N/merge` on `pull_request`, the base branch (main) on
  `pull_request_target`, the pushed branch on `push`;
- a job gets the repository's secrets (none here; from a fork, none at all), plus an
  environment's secrets only when it names that environment and the environment's
  deployment branches allow the ref (otherwise GitHub fails the job before it starts);
- `${{ secrets.X }}` anywhere in the job (workflow `env:`, job `env:`, a step's `env:` or
  `with:`, a `run:`) is replaced by the secret's value, or by "" when the job lacks it.

`received(...)` is everything a job could see: every string it is given, with the secrets
resolved as above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

AMAZON = {
    "AMAZON_ADS_CLIENT_ID": "amzn1.application-oa2-client.REAL",
    "AMAZON_ADS_CLIENT_SECRET": "REAL-CLIENT-SECRET",
    "AMAZON_ADS_REFRESH_TOKEN": "Atzr|REAL-REFRESH-TOKEN",
}
APP = {"RECONCILER_APP_CLIENT_ID": "Iv23-app", "RECONCILER_APP_PRIVATE_KEY": "REAL-APP-KEY"}
SECRET = re.compile(r"\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Environment:
    branches: tuple[str, ...]
    secrets: dict[str, str]


@dataclass(frozen=True)
class Repository:
    """The settings the README asks for."""

    secrets: dict[str, str] = field(default_factory=dict)
    environments: dict[str, Environment] = field(
        default_factory=lambda: {
            "amazon-ads": Environment(("main",), dict(AMAZON)),
            "amazon-ads-read": Environment(("main",), {**AMAZON, **APP}),
        }
    )


@dataclass(frozen=True)
class Event:
    name: str  # pull_request, pull_request_target, push, schedule, workflow_dispatch
    ref: str  # the ref the run is for
    from_fork: bool = False

    @property
    def runs_main_file(self) -> bool:
        return self.name in ("pull_request_target", "schedule", "workflow_dispatch")


PULL_REQUEST = Event("pull_request", "refs/pull/42/merge")
PULL_REQUEST_TARGET = Event("pull_request_target", "refs/heads/main")
PUSH_MAIN = Event("push", "refs/heads/main")
PUSH_BRANCH = Event("push", "refs/heads/add-carol")
SCHEDULE = Event("schedule", "refs/heads/main")


def triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    if isinstance(on, str):
        return {on}
    return set(on or ())


def job_runs_on(job: dict[str, Any], event: Event) -> bool:
    """Whether the job's `if:` lets it run for the event (the `github.event_name == '...'`
    comparisons the examples use; a job without one runs for every trigger)."""
    condition = str(job.get("if", ""))
    names = set(re.findall(r"github\.event_name\s*==\s*'([a-z_]+)'", condition))
    return not names or event.name in names


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def received(
    workflow: dict[str, Any], job_id: str, event: Event, repo: Repository | None = None
) -> list[str]:
    """Every string job `job_id` of `workflow` is given, for `event`, with `${{ secrets.X }}`
    resolved to what GitHub would hand this job ("" when it would not)."""
    repo = repo or Repository()
    job = workflow["jobs"][job_id]
    available: dict[str, str] = {} if event.from_fork else dict(repo.secrets)
    name = job.get("environment")
    if isinstance(name, dict):
        name = name.get("name")
    if name is not None and not event.from_fork:
        environment = repo.environments.get(str(name))
        branch = (
            event.ref.removeprefix("refs/heads/") if event.ref.startswith("refs/heads/") else None
        )
        if environment is not None:
            if branch not in environment.branches:
                return []  # GitHub refuses to start the job: it receives nothing
            available |= environment.secrets
    given = _strings(workflow.get("env", {})) + _strings(job)
    return [SECRET.sub(lambda m: available.get(m.group(1), ""), text) for text in given]


def amazon_values(strings: list[str]) -> set[str]:
    """Which Amazon credentials appear among `strings`."""
    return {key for key, value in AMAZON.items() if any(value in s for s in strings)}
