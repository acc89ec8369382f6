"""The operations the commands run (commands parse, operations run).

- `plan(desired, client, policy, ...)`: read what the manifests manage, plan, bind. A plan
  a guard refuses is returned all the same, carrying its refusals, so it can be shown.
  With `baseline=` (`--baseline REF`) the manifests at REF are planned against the same
  read, and the plan records which of its actions that plan has too. With
  `changed_since=` (`--changed-since REF`) it reads and plans only the accounts whose
  desired state differs between REF's manifests and these (`reconciler.planning.scope`).
- `apply(plan, desired, client, ...)`: confirm, check nothing moved since the plan, execute,
  verify, and say whether live state converged. Runs under the caller's apply lock.
- `check_saved(saved, desired, client, policy, ...)`: `apply --plan`: re-read, re-plan from
  the manifests as they are now, and return the fresh plan only when it is the saved plan
  (same plan digest, same API identity, same policy, nothing moved); else raise
  `PlanMismatchError` or `StalePlanError` listing what differs, or `GuardError` when the
  saved plan or the plan made now is refused. Nothing is written. A saved plan's
  `baseline` is display only (not in its digest or bindings): it is neither needed nor
  compared, and the plan executed (made now) has none.

`policy` is always the command line's (`reconciler.cli.state.guard_options`); each operation
combines it with the manifests' `policy:` (`reconciler.planning.policy.effective`).

The executor (`reconciler.apply`) only executes a plan; re-planning for convergence happens
here, from the verification's re-read of the touched scopes overlaid on the plan's own read.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler import version_line
from reconciler.actions import describe
from reconciler.api import AdsClient
from reconciler.apply import MAX_ATTEMPTS, ActionResult, ApplyReport, Journal, apply_plan, check
from reconciler.errors import (
    GuardError,
    PlanError,
    PlanMismatchError,
    StalePlanError,
)
from reconciler.live.progress import Progress
from reconciler.live.read import read_live
from reconciler.model import Desired, Live, Scope, manager_scope
from reconciler.plan import Action, Bindings, Coverage, Plan, Policy
from reconciler.planfile.codec import encode_live
from reconciler.planfile.digest import action_meaning, desired_digest, plan_digest, short
from reconciler.planning.planner import make_plan, refusal_error
from reconciler.planning.policy import differences, effective
from reconciler.planning.scope import changed, narrow
from reconciler.workflows.adopt import Adoption
from reconciler.workflows.adopt import compute as compute_adoption
from reconciler.workflows.baseline import (
    Revision,
    compare,
    no_longer_managed,
    policy_changes,
    unmanaged_since,
)


def find_commit(paths: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The commit the manifests come from: `GITHUB_SHA`, `CI_COMMIT_SHA`, else git's HEAD in
    the first manifest path's folder (None when there is no git or no repository)."""
    for key in ("GITHUB_SHA", "CI_COMMIT_SHA"):
        if env.get(key, "").strip():
            return env[key].strip()
    if not paths:
        return None
    first = Path(paths[0])
    folder = first if first.is_dir() else first.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) in (40, 64) else None


@dataclass(frozen=True, slots=True)
class Context:
    """What a plan is bound to besides the manifests: the API identity and the commit."""

    identity: str
    commit: str | None = None


def bind(plan: Plan, desired: Desired, context: Context) -> Plan:
    return replace(
        plan,
        bindings=Bindings(
            desired_digest=desired_digest(desired),
            api_identity=context.identity,
            tool_version=version_line(),
            commit=context.commit,
        ),
    )


def plan(
    desired: Desired,
    client: AdsClient,
    policy: Policy,
    context: Context,
    *,
    baseline: Revision | None = None,
    changed_since: Revision | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Read what `desired` manages, plan, bind. With `baseline` (`--baseline REF`, the
    manifests known to be applied) its manifests are planned against the same read under
    the same policy, and the plan records which of its actions that plan has too
    (`Plan.baseline`), so drift can tell a console change from a change not applied yet.
    With `changed_since` (`--changed-since REF`) only the accounts whose desired state
    differs between REF's manifests and `desired` are read and planned, and the plan
    records them (`Plan.coverage`, bound by its digest)."""
    coverage = None
    managed = desired  # everything the manifests manage, whatever this plan covers
    if changed_since is not None:
        coverage = Coverage(
            ref=changed_since.ref,
            commit=changed_since.commit,
            accounts=changed(changed_since.desired, desired),
        )
        desired = narrow(desired, coverage)
    live = read_live(desired, client.reader(), now=policy.now, progress=progress)
    policy = effective(policy, desired)
    made = replace(bind(make_plan(desired, live, policy), desired, context), coverage=coverage)
    if baseline is None:
        return made
    shared = compare(made, baseline, live, policy, desired)
    # Accounts REF manages and these manifests do not: read on their own (the plan's own
    # read, which `apply --plan` compares, stays what these manifests manage).
    gone = unmanaged_since(baseline, managed)
    left: Live = Live()
    if gone.accounts or gone.manager_accounts:
        left = read_live(gone, client.reader(), now=policy.now, progress=progress)
    return replace(
        made,
        baseline=replace(
            shared,
            dropped=no_longer_managed(baseline, gone, left),
            policy_changes=policy_changes(baseline.desired, managed),
        ),
    )


def _all_scopes(live: Live, plan: Plan) -> set[Scope]:
    scopes = {manager_scope(m.id) for m in live.manager_accounts}
    scopes |= {a.scope for a in live.accounts}
    return scopes | set(plan.scopes_touched)


def _snapshot(live: Live) -> dict[str, Any]:
    """Everything a read says, but when it was made."""
    data = encode_live(live)
    data.pop("readAt")
    return data


def _action_differences(saved: Sequence[Action], fresh: Sequence[Action]) -> list[str]:
    def key(a: Action) -> str:
        return repr(sorted(action_meaning(a).items()))

    saved_keys = {key(a): a for a in saved}
    fresh_keys = {key(a): a for a in fresh}
    lines = [
        f"only in the saved plan: {a.scope}: {describe(a)}"
        for k, a in saved_keys.items()
        if k not in fresh_keys
    ]
    lines += [
        f"only in a plan made now: {a.scope}: {describe(a)}"
        for k, a in fresh_keys.items()
        if k not in saved_keys
    ]
    if not lines and [key(a) for a in saved] != [key(a) for a in fresh]:
        lines.append("the same actions in another order")
    return lines


def in_scope(desired: Desired, the_plan: Plan) -> Desired:
    """What of `desired` `the_plan` covers: all of it, or for a `--changed-since` plan the
    accounts its coverage plans."""
    return desired if the_plan.coverage is None else narrow(desired, the_plan.coverage)


def check_saved(
    saved: Plan,
    desired: Desired,
    client: AdsClient,
    policy: Policy,
    context: Context,
    *,
    progress: Progress | None = None,
) -> Plan:
    """The plan to execute for `apply --plan`: a plan made now from `desired` against a fresh
    read, returned only when it is `saved` (module docstring). Raises `PlanMismatchError`
    listing every difference, `StalePlanError` listing what moved, `GuardError` when a guard
    refuses now. A saved plan with a coverage (`--changed-since`) is checked, and made
    again, over exactly the accounts it covers: nothing else is read or compared."""
    if saved.refusals:
        raise GuardError(
            [
                "the saved plan was refused when it was made, and a refused plan is never applied:",
                *(f"  {r.message}" for r in saved.refusals),
            ]
        )
    desired = in_scope(desired, saved)
    policy = effective(policy, desired)
    problems: list[str] = []
    if saved.bindings.api_identity != context.identity:
        problems.append(
            f"the plan was made for {saved.bindings.api_identity or 'an unknown API account'}, "
            f"this apply talks to {context.identity}"
        )
    problems += differences(saved.policy, policy)
    if problems:
        raise PlanMismatchError(problems)
    fresh_live = read_live(desired, client.reader(), now=policy.now, progress=progress)
    if saved.bindings.desired_digest != desired_digest(desired):
        covered = "" if saved.coverage is None else " for the accounts the plan covers"
        problems.append(
            f"the manifests given mean something else{covered} than the ones the plan was "
            f"made from (manifests digest {short(desired_digest(desired))}, the plan's "
            f"{short(saved.bindings.desired_digest) or 'none'})"
        )
        try:
            fresh = make_plan(desired, fresh_live, policy)
        except PlanError as exc:
            problems.append(f"a plan made now from them is refused: {exc}")
        else:
            problems += _action_differences(saved.actions, fresh.actions)
        raise PlanMismatchError(problems)
    if _snapshot(saved.live) != _snapshot(fresh_live):
        scopes = _all_scopes(saved.live, saved) | _all_scopes(fresh_live, saved)
        moved = check.moved_since(saved, fresh_live, scopes, restrict=False)
        raise StalePlanError(
            moved
            or ["the plan's record of live state is not what a fresh read shows (was it edited?)"]
        )
    fresh = replace(
        bind(make_plan(desired, fresh_live, policy), desired, context), coverage=saved.coverage
    )
    error = refusal_error(fresh)
    if error is not None:
        raise error
    saved_digest = plan_digest(saved.actions, saved.coverage)
    fresh_digest = plan_digest(fresh.actions, fresh.coverage)
    if saved_digest != fresh_digest:
        raise PlanMismatchError(
            [
                f"a plan made now is {short(fresh_digest)}, the saved plan is "
                f"{short(saved_digest)}",
                *_action_differences(saved.actions, fresh.actions),
            ]
        )
    return fresh


def adopt(
    desired: Desired,
    client: AdsClient,
    *,
    now: float,
    baseline: Revision | None = None,
    progress: Progress | None = None,
) -> Adoption:
    """`reconciler adopt`: read what the manifests manage and compute the manifest edits
    that describe it (`reconciler.workflows.adopt`); the caller writes or shows them. With
    `baseline` (the manifests at the last successful apply) only what changed behind git's
    back is adopted."""
    live = read_live(desired, client.reader(), now=now, progress=progress)
    return compute_adoption(desired, live, now=now, baseline=baseline)


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What `apply` did: `report` is None only when the person declined."""

    plan: Plan
    report: ApplyReport | None = None
    declined: bool = False


def apply(
    the_plan: Plan,
    desired: Desired | None,
    client: AdsClient,
    *,
    confirm: Callable[[Plan], bool] | None = None,
    journal: str | os.PathLike[str] | Journal | None = None,
    stop: threading.Event | None = None,
    on_result: Callable[[ActionResult], None] | None = None,
    on_start: Callable[[Plan], None] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    while_writing: Callable[[], AbstractContextManager[object]] = nullcontext,
    on_phase: Callable[[str], None] | None = None,
) -> ApplyOutcome:
    """Execute `the_plan` and verify it. `confirm` (None: already approved) is asked first,
    and after a yes the touched scopes are re-read (`StalePlanError` when they moved, or
    when an `expires:` of `desired` passed since the plan's time, by the client's clock);
    `desired`, when given, decides convergence: a plan made from it against the touched
    scopes re-read after the apply (overlaid on the plan's own read) must be empty.
    `while_writing` wraps only the writes (the CLI's Ctrl-C handling: the prompt and the
    reads before it are interrupted at once, the writes finish the calls in flight).
    A refused plan raises `GuardError` before anything is asked, read or written."""
    error = refusal_error(the_plan)
    if error is not None:
        raise error
    if not the_plan.is_empty:
        if confirm is not None:
            if not confirm(the_plan):
                return ApplyOutcome(the_plan, declined=True)
            # The person looked at the plan for a while: what it touches is read again and
            # the plan refused, listing what moved, if live state changed meanwhile; and
            # an `expires:` that passed meanwhile ends what the plan still grants or keeps.
            check.check_not_stale(the_plan, client.reader())
            if desired is not None:
                passed = _expired_since(desired, the_plan.policy.now, client.now())
                if passed:
                    raise StalePlanError(passed)
        if on_start is not None:
            on_start(the_plan)
    log: Journal | None
    if journal is None or isinstance(journal, Journal):
        log, own = journal, False
    else:
        log, own = Journal(journal), True
    try:
        with while_writing():
            report = apply_plan(
                the_plan,
                client,
                journal=log,
                stop=stop,
                on_result=on_result,
                max_attempts=max_attempts,
                on_phase=on_phase,
            )
    finally:
        if own and log is not None:
            log.close()
    if desired is not None and report.fresh is not None:
        report = _converged(report, the_plan, in_scope(desired, the_plan))
    return ApplyOutcome(the_plan, report)


def _expired_since(desired: Desired, then: float, now: float) -> list[str]:
    """The entries whose `expires:` fell after `then` (when the plan was made) and by `now`
    (the world's clock): a plan made at `then` grants or keeps them, the manifests no
    longer do."""
    return [
        f"{entry.who} on {account.scope}: `expires:` ({entry.expires_source or entry.source}) "
        "passed while the plan was shown, and the plan was made before it"
        for account in desired.accounts
        for entry in account.users
        if entry.expires is not None and then < entry.expires <= now
    ]


def _converged(report: ApplyReport, the_plan: Plan, desired: Desired) -> ApplyReport:
    assert report.fresh is not None
    touched = set(the_plan.scopes_touched) | {
        manager_scope(m.id) for m in report.fresh.manager_accounts
    }
    after = check.overlay(the_plan.live, report.fresh, touched)
    try:
        again = make_plan(desired, after, the_plan.policy)
    except PlanError as exc:
        return replace(
            report,
            converged=False,
            problems=(*report.problems, f"planning again after the apply failed: {exc}"),
        )
    return replace(
        report,
        converged=again.in_sync and not report.problems,
        remaining=again.actions,
        problems=(
            *report.problems,
            *(n.message for n in again.unrestorable + again.held + again.kept + again.off_policy),
        ),
    )
