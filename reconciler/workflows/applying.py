"""`reconciler apply`: plan (or check a saved plan), show, confirm, apply under the apply lock
(`reconciler.apply.lock`, held from before live state is read until it has verified), and
report.

What the person sees and answers goes through an `ApplyView` (the command line's): the
workflow decides what happens in which order, the view only shows and asks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn, Protocol

from reconciler.addresses import manifest_addresses
from reconciler.api import AdsClient
from reconciler.apply import ActionResult, stop_on_signals
from reconciler.apply.render import render_report, result_line
from reconciler.errors import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL
from reconciler.model import Desired
from reconciler.plan import Plan, Policy
from reconciler.planfile import codec as planfile
from reconciler.workflows import operations
from reconciler.workflows.baseline import manifests_since
from reconciler.workflows.manifests import load
from reconciler.workflows.session import ApiOptions, context, locked


class ApplyView(Protocol):
    """How `apply` talks to the person."""

    def waiting(self, lock: Path) -> None:
        """Another apply holds the lock: this one waits for it."""

    def planned(self, the_plan: Plan, desired: Desired, saved: Plan | None) -> None:
        """Show the plan about to be applied (`saved`: the plan file it was checked
        against, None when it was just made)."""

    def refused(self, the_plan: Plan) -> NoReturn:
        """The plan shown is refused by a guard: say so and end the command (nothing is
        written; the client and the lock are let go as the exception passes)."""

    def confirm(self, the_plan: Plan) -> bool:
        """Ask whether to apply the plan shown; False applies nothing."""

    def starting(self, count: int) -> None:
        """The first write is about to be sent; `count` actions in all."""

    def result(self, line: str) -> None:
        """One action finished (its line, rendered and escaped)."""

    def stopping(self) -> None:
        """Ctrl-C or SIGTERM: the calls in flight finish, nothing else is sent."""


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply` did: its exit code, and the report rendered for people (None when nothing
    was sent, or the person declined)."""

    exit_code: int
    report: str | None = None
    declined: bool = False


def apply(
    paths: Sequence[str],
    api: ApiOptions,
    policy: Policy,
    view: ApplyView,
    *,
    plan_file: str | os.PathLike[str] | None = None,
    changed_since: str | None = None,
    auto_approve: bool = False,
    journal: str | os.PathLike[str] | None = None,
    use_lock: bool = True,
    lock_timeout_s: float,
    mask_emails: bool = False,
) -> Applied:
    """Make live state match the manifests under `paths`, or apply the saved `plan_file`
    (only while it is the plan of those manifests now: `operations.check_saved`). A plan
    made now is confirmed through the view unless `auto_approve`; a saved one was reviewed
    already. The world's clock (`reconciler.workflows.session`) judges expiry."""
    desired = load(paths)
    saved = planfile.read(plan_file) if plan_file is not None else None
    # Before anything is read live or locked: a REF that cannot be used stops here.
    since = manifests_since(changed_since, paths) if changed_since is not None else None
    bound_to = context(api, paths)
    with (
        locked(api, enabled=use_lock, timeout_s=lock_timeout_s, on_wait=view.waiting),
        api.open_client() as client,
    ):
        policy = replace(policy, now=client.now())
        confirm: Callable[[Plan], bool] | None = None
        if saved is None:
            the_plan = operations.plan(
                desired, client, policy, bound_to, changed_since=since, progress=api.progress
            )
            confirm = None if auto_approve else view.confirm
        else:
            the_plan = operations.check_saved(
                saved, desired, client, policy, bound_to, progress=api.progress
            )
        view.planned(the_plan, desired, saved)
        if the_plan.refused:
            view.refused(the_plan)
        keep = manifest_addresses(desired)
        masking = keep if mask_emails else None
        return _run(the_plan, desired, client, api, view, confirm, journal, masking)


def _run(
    the_plan: Plan,
    desired: Desired,
    client: AdsClient,
    api: ApiOptions,
    view: ApplyView,
    confirm: Callable[[Plan], bool] | None,
    journal: str | os.PathLike[str] | None,
    masking: frozenset[str] | None,
) -> Applied:
    """Apply under the lock the caller holds. `masking`: None shows addresses; else they
    are masked, but for these (the manifests' own)."""
    mask_emails, keep = masking is not None, masking or frozenset()
    if the_plan.is_empty:
        # Nothing can be sent; not in sync (held back, unrestorable) is not converged.
        return Applied(EXIT_OK if the_plan.in_sync else EXIT_PARTIAL)
    stop = threading.Event()
    progress = api.progress

    def phase(name: str) -> None:
        if progress is not None:
            progress.phase(name)

    def on_result(result: ActionResult) -> None:
        if progress is not None:
            progress.clear()  # a result line never lands behind the progress line
        view.result(result_line(result, mask_emails=mask_emails, keep=keep))
        phase("applying")

    def on_start(p: Plan) -> None:
        view.starting(len(p.actions))
        phase("applying")

    outcome = operations.apply(
        the_plan,
        desired,
        client,
        confirm=confirm,
        journal=Path(journal) if journal is not None else None,
        stop=stop,
        on_result=on_result,
        on_start=on_start,
        while_writing=lambda: stop_on_signals(stop, on_stop=view.stopping),
        on_phase=phase,
    )
    if progress is not None:
        progress.finish()
    if outcome.declined:
        return Applied(EXIT_ERROR, declined=True)
    if outcome.report is None:
        return Applied(EXIT_OK)
    report = render_report(outcome.report, mask_emails=mask_emails, keep=keep)
    return Applied(outcome.report.exit_code, report)
