"""`plan`, `drift` and `show`: the plan of the manifests against what is live, and a saved
plan file read back."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.model import Desired
from reconciler.plan import Plan, Policy
from reconciler.planfile import codec as planfile
from reconciler.planning.review import Due, due
from reconciler.workflows import operations
from reconciler.workflows.baseline import manifests_at, manifests_since
from reconciler.workflows.manifests import load
from reconciler.workflows.session import ApiOptions, context


@dataclass(frozen=True, slots=True)
class Planned:
    """A plan and what it was made from; `due`, the grants whose access review is due then
    (shown with the plan, never part of it)."""

    desired: Desired
    plan: Plan
    due: tuple[Due, ...] = ()


def plan(
    paths: Sequence[str],
    api: ApiOptions,
    policy: Policy,
    *,
    baseline: str | None = None,
    changed_since: str | None = None,
    out: str | os.PathLike[str] | None = None,
) -> Planned:
    """`plan` and `drift`: load the manifests under `paths`, read, plan
    (`operations.plan`) by the world's clock (`reconciler.workflows.session`), and save the
    plan file to `out` when given. A plan a guard refuses is returned all the same, carrying
    its refusals, so it can be shown."""
    desired = load(paths)
    # Before anything is read live: a baseline or REF that cannot be used stops here.
    revision = manifests_at(baseline, paths) if baseline is not None else None
    since = manifests_since(changed_since, paths) if changed_since is not None else None
    bound_to = context(api, paths)
    with api.open_client() as client:
        the_plan = operations.plan(
            desired,
            client,
            replace(policy, now=client.now()),
            bound_to,
            baseline=revision,
            changed_since=since,
            progress=api.progress,
        )
    if out is not None:
        planfile.write(out, the_plan)
    return Planned(desired, the_plan, due(desired, now=the_plan.policy.now))


def saved(path: str | os.PathLike[str]) -> Plan:
    """A saved plan file, checked (`reconciler.planfile.codec.read`: a file this reconciler
    did not make, or that was edited since, is a `PlanFileError`). Offline."""
    return planfile.read(Path(path))
