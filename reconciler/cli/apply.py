"""`reconciler apply`: plan (or check a saved plan), confirm, apply under the apply lock
(`reconciler.apply.lock`; `--lock/--no-lock`, `--lock-timeout`, held from before live state is
read until it has verified), and report. Exit codes as `reconciler.errors` lists them; 130 when
an apply was interrupted."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click

from reconciler.addresses import manifest_addresses
from reconciler.api import AdsClient
from reconciler.apply import ActionResult, stop_on_signals
from reconciler.apply import lock as apply_lock
from reconciler.apply.render import render_report, result_line
from reconciler.cli.options import MASK_ERRORS, ApiOptions, api_options
from reconciler.cli.state import (
    CHANGED_SINCE,
    EPILOG_APPLY,
    MASK,
    PATHS,
    SHOW_WAITING,
    color,
    guard_options,
    load,
    operation_context,
    refused,
)
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    UsageError,
)
from reconciler.live.progress import Progress
from reconciler.live.session import api_identity
from reconciler.model import Desired
from reconciler.plan import Plan, Policy
from reconciler.planfile import codec as planfile
from reconciler.render import render_text
from reconciler.workflows import operations
from reconciler.workflows.baseline import manifests_since


def _approved(auto_approve: bool) -> bool:
    if auto_approve:
        return True
    if not sys.stdin.isatty():
        click.echo(
            "Error: refusing to apply without confirmation, and there is no terminal to ask "
            "on. Review the plan above, then run again with --auto-approve (or save a plan "
            "with `reconciler plan --out FILE` and apply it with `reconciler apply --plan "
            "FILE`).",
            err=True,
        )
        return False
    return click.confirm("Apply these changes?", default=False)


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """`--lock-timeout`: 30s, 5m, 1h, plain seconds; 0 = do not wait."""
    try:
        return apply_lock.parse_duration(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _lock_file(api: ApiOptions) -> Path:
    """The apply lock for the API account these options reach (`reconciler.apply.lock`): the
    client id and API hosts; for `--sandbox`, the sandbox state file (its "host")."""
    identity = api_identity(sandbox=api.sandbox, sandbox_state=api.sandbox_state, env=os.environ)
    return apply_lock.lock_path(identity.client_id, identity.hosts, env=os.environ)


@contextmanager
def _locked(api: ApiOptions, *, enabled: bool, timeout_s: float) -> Iterator[None]:
    if not enabled:
        yield
        return

    def on_wait(path: Path) -> None:
        click.echo(f"waiting for another apply to finish (lock {path})...", err=True)

    with apply_lock.hold(_lock_file(api), timeout_s=timeout_s, on_wait=on_wait):
        yield


@click.command(epilog=EPILOG_APPLY)
@PATHS
@click.option(
    "--plan",
    "plan_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply a saved, reviewed plan. PATH... (required) are the manifests as they are "
    "now: the plan runs only if a plan made from them against a fresh read is the saved one "
    "(same plan digest, API account and policy, nothing moved); else nothing is written.",
)
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--journal",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append one JSON line per action (time, action, target, result) to FILE (0600).",
)
@click.option(
    "--lock/--no-lock",
    "use_lock",
    default=True,
    show_default=True,
    help="Hold the apply lock (one apply at a time per API account on this machine) from "
    "before reading live state until the apply is verified.",
)
@click.option(
    "--lock-timeout",
    "lock_timeout_s",
    metavar="DURATION",
    callback=_duration,
    default=apply_lock.DEFAULT_TIMEOUT,
    show_default=True,
    help="How long to wait for another apply to finish (30s, 5m, 1h; 0 = fail at once).",
)
@MASK
@SHOW_WAITING
@CHANGED_SINCE
@guard_options
@api_options
@click.pass_context
def apply(
    ctx: click.Context,
    paths: tuple[str, ...],
    plan_file: Path | None,
    auto_approve: bool,
    journal: Path | None,
    use_lock: bool,
    lock_timeout_s: float,
    mask_emails: bool,
    show_waiting: bool,
    changed_since: str | None,
    policy: Policy,
    api: ApiOptions,
) -> None:
    """Make live state match the manifests under PATH... (or apply a saved --plan FILE).

    Without --plan it plans first, shows the plan and asks on a terminal; --auto-approve
    skips the question. A saved plan was reviewed already and is applied without asking, but
    only if it is exactly the plan of PATH... now (see --plan). Either way it first takes
    the apply lock, so a second apply started meanwhile waits, then plans (or checks its
    saved plan) against what this one left. With --changed-since REF it plans and applies
    only the accounts whose desired state differs between the manifests at REF and PATH...,
    and shows the plan's digest as `plan` does."""
    if mask_emails:
        MASK_ERRORS.set()
    if plan_file is not None and changed_since is not None:
        raise UsageError(
            "--changed-since with --plan: a saved plan applies over the accounts it records; "
            "leave out --changed-since"
        )
    desired = load(paths)
    saved = planfile.read(plan_file) if plan_file is not None else None
    # Before anything is read live or locked: a REF that cannot be used stops here.
    since = manifests_since(changed_since, paths) if changed_since is not None else None
    context = operation_context(api, paths)
    with (
        _locked(api, enabled=use_lock, timeout_s=lock_timeout_s),
        api.open_client() as client,
    ):
        policy = replace(policy, now=client.now())  # the sandbox's clock in sandbox mode
        if saved is None:
            the_plan = operations.plan(
                desired, client, policy, context, changed_since=since, progress=api.progress
            )
            confirm = None if auto_approve else _confirm
        else:
            the_plan = operations.check_saved(
                saved, desired, client, policy, context, progress=api.progress
            )
            covered = ""
            if saved.coverage is not None:
                n = len(saved.coverage.planned)
                covered = f" in the {n} account{'s' if n != 1 else ''} it covers"
            click.echo(f"The saved plan {plan_file} is the plan of these manifests now{covered}.")
            confirm = None
        keep = manifest_addresses(desired)
        shown = render_text(
            the_plan,
            color=color(),
            mask_emails=mask_emails,
            show_waiting=show_waiting,
            keep=keep,
        )
        click.echo(shown, nl=False)
        if the_plan.refused:
            click.echo("Nothing was applied.", err=True)
            ctx.exit(refused(the_plan))
        masking = keep if mask_emails else None
        code = _run_apply(the_plan, desired, client, confirm, journal, masking, api.progress)
    ctx.exit(code)


def _confirm(the_plan: Plan) -> bool:
    return _approved(False)


def _run_apply(
    the_plan: Plan,
    desired: Desired,
    client: AdsClient,
    confirm: Callable[[Plan], bool] | None,
    journal: Path | None,
    masking: frozenset[str] | None,
    progress: Progress | None = None,
) -> int:
    """Apply under the lock the caller holds; report; the exit code. `masking`: None shows
    addresses; else they are masked, but for these (the manifests' own)."""
    mask_emails, keep = masking is not None, masking or frozenset()
    if the_plan.is_empty:
        # Nothing can be sent; not in sync (held back, unrestorable) is not converged.
        return EXIT_OK if the_plan.in_sync else EXIT_PARTIAL
    stop = threading.Event()

    def on_stop() -> None:
        click.echo("Stopping after the calls in flight (Ctrl-C again to abort)...", err=True)

    def phase(name: str) -> None:
        if progress is not None:
            progress.phase(name)

    def on_result(result: ActionResult) -> None:
        if progress is not None:
            progress.clear()  # a result line never lands behind the progress line
        click.echo(result_line(result, mask_emails=mask_emails, keep=keep))
        phase("applying")

    def on_start(p: Plan) -> None:
        click.echo(f"Applying {len(p.actions)} action(s)...")
        phase("applying")

    outcome = operations.apply(
        the_plan,
        desired,
        client,
        confirm=confirm,
        journal=journal,
        stop=stop,
        on_result=on_result,
        on_start=on_start,
        while_writing=lambda: stop_on_signals(stop, on_stop=on_stop),
        on_phase=phase,
    )
    if progress is not None:
        progress.finish()
    if outcome.declined:
        click.echo("Nothing was applied.", err=True)
        return EXIT_ERROR
    if outcome.report is None:
        return EXIT_OK
    click.echo(render_report(outcome.report, mask_emails=mask_emails, keep=keep), nl=False)
    return outcome.report.exit_code


COMMANDS: list[click.Command] = [apply]
