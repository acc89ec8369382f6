"""`reconciler apply`: plan (or check a saved plan), confirm, apply under the apply lock
(`reconciler.apply.lock`; `--lock/--no-lock`, `--lock-timeout`, held from before live state is
read until it has verified), and report. Exit codes as `reconciler.errors` lists them; 130 when
an apply was interrupted."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from reconciler.addresses import manifest_addresses
from reconciler.cli.options import MASK_ERRORS, ApiOptions, api_options
from reconciler.cli.state import (
    CHANGED_SINCE,
    EPILOG_APPLY,
    MASK,
    PATHS,
    SHOW_WAITING,
    color,
    guard_options,
    refused,
)
from reconciler.errors import UsageError
from reconciler.model import Desired
from reconciler.plan import Plan, Policy
from reconciler.render import render_text
from reconciler.workflows import applying, session


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
        return session.lock_timeout(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


class _View:
    """`apply` on the terminal: the plan and the results on stdout, the rest on stderr."""

    def __init__(
        self, ctx: click.Context, plan_file: Path | None, *, mask_emails: bool, show_waiting: bool
    ) -> None:
        self.ctx = ctx
        self.plan_file = plan_file
        self.mask_emails = mask_emails
        self.show_waiting = show_waiting

    def waiting(self, lock: Path) -> None:
        click.echo(f"waiting for another apply to finish (lock {lock})...", err=True)

    def planned(self, the_plan: Plan, desired: Desired, saved: Plan | None) -> None:
        if saved is not None:
            covered = ""
            if saved.coverage is not None:
                n = len(saved.coverage.planned)
                covered = f" in the {n} account{'s' if n != 1 else ''} it covers"
            click.echo(
                f"The saved plan {self.plan_file} is the plan of these manifests now{covered}."
            )
        shown = render_text(
            the_plan,
            color=color(),
            mask_emails=self.mask_emails,
            show_waiting=self.show_waiting,
            keep=manifest_addresses(desired),
        )
        click.echo(shown, nl=False)

    def refused(self, the_plan: Plan) -> NoReturn:
        click.echo("Nothing was applied.", err=True)
        self.ctx.exit(refused(the_plan))

    def confirm(self, the_plan: Plan) -> bool:
        return _approved(False)

    def starting(self, count: int) -> None:
        click.echo(f"Applying {count} action(s)...")

    def result(self, line: str) -> None:
        click.echo(line)

    def stopping(self) -> None:
        click.echo("Stopping after the calls in flight (Ctrl-C again to abort)...", err=True)


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
    default=session.DEFAULT_LOCK_TIMEOUT,
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
    view = _View(ctx, plan_file, mask_emails=mask_emails, show_waiting=show_waiting)
    applied = applying.apply(
        paths,
        api,
        policy,
        view,
        plan_file=plan_file,
        changed_since=changed_since,
        auto_approve=auto_approve,
        journal=journal,
        use_lock=use_lock,
        lock_timeout_s=lock_timeout_s,
        mask_emails=mask_emails,
    )
    if applied.declined:
        click.echo("Nothing was applied.", err=True)
    if applied.report is not None:
        click.echo(applied.report, nl=False)
    ctx.exit(applied.exit_code)


COMMANDS: list[click.Command] = [apply]
