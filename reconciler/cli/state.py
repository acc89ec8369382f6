"""Commands that show live state against the manifests: `plan`, `drift`, `show`
(`reconciler.workflows.state` runs them); and the options and renderers that `apply`
(`cli/apply.py`) and the commands that write manifests (`cli/edits.py`) share.

Exit codes (reconciler.errors): 0 ok / no changes, 1 error or refused, 2 changes present
(`plan --detailed-exitcode`, `drift`), 3 apply finished but something failed or did not
converge, 64 usage error; 130 when an apply was interrupted.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.addresses import manifest_addresses
from reconciler.cli.helptext import CREDENTIALS_ENV, ERROR, OK, SANDBOX_ENV, epilog
from reconciler.cli.options import MASK_ERRORS, ApiOptions, api_options
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
)
from reconciler.plan import Plan, Policy
from reconciler.render import render_json, render_markdown, render_text
from reconciler.render.access import render_review_due
from reconciler.workflows import state

R = TypeVar("R")
DEFAULTS = Policy()

_GUARDS = (
    click.option(
        "--max-removals",
        type=click.IntRange(min=0),
        default=None,
        help=f"Refuse a plan that removes more links, users and invitations than this "
        f"[default: policy.maxRemovals in the manifests, else {DEFAULTS.max_removals}].",
    ),
    click.option(
        "--max-removal-fraction",
        type=click.FloatRange(0.0, 1.0),
        default=None,
        help="Refuse a plan that removes more than this share of one account's members, "
        "beyond --removal-floor [default: policy.maxRemovalFraction in the manifests, else "
        f"{DEFAULTS.max_removal_fraction:g}].",
    ),
    click.option(
        "--removal-floor",
        type=click.IntRange(min=0),
        default=None,
        help="This many removals per account are always allowed by --max-removal-fraction "
        f"[default: policy.removalFloor in the manifests, else {DEFAULTS.removal_floor}].",
    ),
    click.option(
        "--resend-within",
        "resend_within_days",
        metavar="DAYS",
        type=click.FloatRange(min=0.0),
        default=None,
        help="Resend pending invitations that expire within this many days "
        f"[default: {DEFAULTS.resend_within_days:g}].",
    ),
    click.option(
        "--allow-incomplete",
        is_flag=True,
        help="Plan even where the live read may be incomplete, without the removals and "
        "creates it would block.",
    ),
    click.option(
        "--allow-unresolved",
        is_flag=True,
        help="Plan even when masked users cannot be told apart, leaving them untouched.",
    ),
    click.option(
        "--allow-fewer-admins",
        is_flag=True,
        help="Allow fewer active admins than minAdmins (never none).",
    ),
    click.option(
        "--expiring-within",
        "expiring_within_days",
        metavar="DAYS",
        type=click.FloatRange(min=0.0),
        default=DEFAULTS.expiring_within_days,
        show_default=True,
        help="List grants whose `expires:` comes within this many days.",
    ),
)


def guard_options(command: Callable[..., R]) -> Callable[..., R]:
    """Add the guard flags; the command receives them as one `policy` argument, in which a
    flag given on the command line names itself in `policy.sources` (it then wins over the
    manifests' `policy:`, `reconciler.planning.policy.effective`)."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        max_removals: int | None,
        max_removal_fraction: float | None,
        removal_floor: int | None,
        resend_within_days: float | None,
        allow_incomplete: bool,
        allow_unresolved: bool,
        allow_fewer_admins: bool,
        expiring_within_days: float,
        **kwargs: Any,
    ) -> R:
        given = {
            "maxRemovals": ("--max-removals", max_removals),
            "maxRemovalFraction": ("--max-removal-fraction", max_removal_fraction),
            "removalFloor": ("--removal-floor", removal_floor),
            "resendWithinDays": ("--resend-within", resend_within_days),
            "allowIncomplete": ("--allow-incomplete", allow_incomplete or None),
            "allowUnresolved": ("--allow-unresolved", allow_unresolved or None),
            "allowFewerAdmins": ("--allow-fewer-admins", allow_fewer_admins or None),
        }
        policy = Policy(
            max_removals=DEFAULTS.max_removals if max_removals is None else max_removals,
            max_removal_fraction=DEFAULTS.max_removal_fraction
            if max_removal_fraction is None
            else max_removal_fraction,
            removal_floor=DEFAULTS.removal_floor if removal_floor is None else removal_floor,
            resend_within_days=DEFAULTS.resend_within_days
            if resend_within_days is None
            else resend_within_days,
            now=time.time(),
            allow_incomplete=allow_incomplete,
            allow_unresolved=allow_unresolved,
            allow_fewer_admins=allow_fewer_admins,
            sources={name: flag for name, (flag, value) in given.items() if value is not None},
            expiring_within_days=expiring_within_days,
        )
        return command(*args, policy=policy, **kwargs)

    decorated: Callable[..., R] = wrapper
    for option in reversed(_GUARDS):
        decorated = option(decorated)
    return decorated


PATHS = click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(path_type=str)
)

_API_ENV = (*CREDENTIALS_ENV, *SANDBOX_ENV)
_CHANGES = (EXIT_CHANGES, "changes present (with --detailed-exitcode)")
_EPILOG_PLAN = epilog(
    env=(*_API_ENV, ("GITHUB_SHA / CI_COMMIT_SHA", "the commit the plan records")),
    exits=(OK, _CHANGES, (EXIT_ERROR, "error, or the plan is refused (shown all the same)")),
)
_EPILOG_DRIFT = epilog(
    env=_API_ENV,
    exits=(
        (EXIT_OK, "in sync"),
        (EXIT_CHANGES, "drifted (even where applying it would be refused)"),
        (EXIT_ERROR, "error, or a read that failed or may be incomplete"),
    ),
)
EPILOG_APPLY = epilog(
    env=_API_ENV,
    exits=(
        (EXIT_OK, "done and converged, or nothing to do"),
        (EXIT_ERROR, "error, refused, stale or mismatched plan, or not confirmed"),
        (EXIT_PARTIAL, "something failed, was not sent, or did not converge"),
        (EXIT_INTERRUPTED, "interrupted (Ctrl-C, SIGTERM)"),
    ),
)
_EPILOG_SHOW = epilog(exits=((EXIT_OK, "shown"), (EXIT_ERROR, "not a usable plan file")))
EPILOG_IMPORT = epilog(env=_API_ENV, exits=((EXIT_OK, "written"), ERROR))
EPILOG_PIN = epilog(
    env=_API_ENV, exits=((EXIT_OK, "nothing pinned"), (EXIT_CHANGES, "pinned"), ERROR)
)
EPILOG_ADOPT = epilog(
    env=_API_ENV, exits=((EXIT_OK, "nothing to adopt"), (EXIT_CHANGES, "files changed"), ERROR)
)
_FORMAT = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for people, markdown for pull requests, json for machines (the plan file).",
)
SHOW_WAITING = click.option(
    "--show-waiting",
    is_flag=True,
    help="List every invitation waiting to be accepted (text; default: a count per account).",
)
MASK = click.option(
    "--mask-emails",
    is_flag=True,
    help="Mask email addresses (a***@example.com) in text and markdown, for public logs; "
    "an address the manifests hold is shown as written (it is in the reviewed files).",
)
_MAX_LENGTH = click.option(
    "--max-length",
    metavar="CHARS",
    type=click.IntRange(min=1000),
    default=None,
    help="markdown: keep the output under CHARS characters (a pull-request comment's limit): "
    "the summary and every section stay, per-account detail that does not fit is left out "
    "and a line says so. The job summary and the plan file keep the whole plan.",
)


def color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _render(
    plan: Plan,
    output_format: str,
    *,
    mask: bool,
    bindings: bool = False,
    show_waiting: bool = True,
    keep: frozenset[str] = frozenset(),
    max_length: int | None = None,
    plan_file: Path | None = None,
) -> str:
    if output_format == "json":
        return render_json(plan)
    if output_format == "markdown":
        return render_markdown(
            plan,
            mask_emails=mask,
            bindings=bindings,
            keep=keep,
            max_length=max_length,
            plan_file=None if plan_file is None else str(plan_file),
        )
    return render_text(
        plan,
        color=color(),
        mask_emails=mask,
        bindings=bindings,
        show_waiting=show_waiting,
        keep=keep,
    )


def _step_summary(plan: Plan, *, mask: bool, keep: frozenset[str]) -> None:
    """GitHub Actions: append the markdown to the job summary page as well (the whole
    plan, whatever --max-length cut from the output)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(render_markdown(plan, mask_emails=mask, keep=keep) + "\n")
    except OSError as exc:
        click.echo(f"warning: cannot write GITHUB_STEP_SUMMARY {target}: {exc}", err=True)


def _show(
    planned: state.Planned,
    output_format: str,
    *,
    mask: bool,
    show_waiting: bool,
    max_length: int | None,
    plan_file: Path | None = None,
) -> None:
    """What plan and drift print: the plan (the manifests' own addresses shown as written
    when masking), the grants due for review, and the CI job summary."""
    keep = manifest_addresses(planned.desired)
    the_plan = planned.plan
    shown = _render(
        the_plan,
        output_format,
        mask=mask,
        show_waiting=show_waiting,
        keep=keep,
        max_length=max_length,
        plan_file=plan_file,
    )
    click.echo(shown, nl=False)
    click.echo(render_review_due(planned.due, output_format), nl=False)
    _step_summary(the_plan, mask=mask, keep=keep)


_BASELINE = click.option(
    "--baseline",
    metavar="REF",
    default=None,
    help="The git commit (or branch, tag) whose manifests are known to be applied: the "
    "last successful apply. Each change is then labelled changed behind git's back (the "
    "manifests at REF would make it too) or not applied yet (only the manifests since REF "
    "ask for it). Without it the two cannot be told apart, and are not.",
)

CHANGED_SINCE = click.option(
    "--changed-since",
    metavar="REF",
    default=None,
    help="The git commit (or branch, tag) the change starts from, e.g. a pull request's "
    "merge base: read and plan only the accounts whose desired state differs between the "
    "manifests at REF and PATH... (an entry, a group or the policy reaching them, an account "
    "added; one dropped is listed as leaving management). The plan lists them and why, and "
    "a saved plan applies over exactly those. Without it, everything the manifests manage.",
)


@click.command(epilog=_EPILOG_PLAN)
@PATHS
@click.option(
    "--out",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the plan file (JSON), for `reconciler apply --plan FILE`.",
)
@_FORMAT
@MASK
@_MAX_LENGTH
@SHOW_WAITING
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when the plan has changes (0 when none).",
)
@_BASELINE
@CHANGED_SINCE
@guard_options
@api_options
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[str, ...],
    out: Path | None,
    output_format: str,
    mask_emails: bool,
    max_length: int | None,
    show_waiting: bool,
    detailed_exitcode: bool,
    baseline: str | None,
    changed_since: str | None,
    policy: Policy,
    api: ApiOptions,
) -> None:
    """Show what apply would change to make live state match the manifests under PATH...

    The plan ends with its digest (`Plan digest: sha256:...`): `apply --plan FILE` runs a
    saved plan only while a plan made from the manifests it is given has that digest."""
    if mask_emails:
        MASK_ERRORS.set()
    planned = state.plan(
        paths, api, policy, baseline=baseline, changed_since=changed_since, out=out
    )
    _show(
        planned,
        output_format,
        mask=mask_emails,
        show_waiting=show_waiting,
        max_length=max_length,
        plan_file=out,
    )
    if planned.plan.refused:
        ctx.exit(refused(planned.plan))
    changed = detailed_exitcode and not planned.plan.in_sync
    ctx.exit(EXIT_CHANGES if changed else EXIT_OK)


def refused(the_plan: Plan) -> int:
    """Say on stderr that the plan shown is refused; the exit code."""
    n = len(the_plan.refusals)
    click.echo(
        f"Error: the plan is refused by {n} guard{'s' if n != 1 else ''} (listed on top of "
        "the plan); nothing can be applied until it is allowed.",
        err=True,
    )
    return EXIT_ERROR


@click.command(epilog=_EPILOG_DRIFT)
@_FORMAT
@MASK
@_MAX_LENGTH
@SHOW_WAITING
@PATHS
@_BASELINE
@CHANGED_SINCE
@guard_options
@api_options
@click.pass_context
def drift(
    ctx: click.Context,
    paths: tuple[str, ...],
    output_format: str,
    mask_emails: bool,
    max_length: int | None,
    show_waiting: bool,
    baseline: str | None,
    changed_since: str | None,
    policy: Policy,
    api: ApiOptions,
) -> None:
    """Read-only check: exit 0 when live state matches the manifests, 2 when it drifted.

    Every item says its class (grant expired, invitation expired, identity unresolved,
    read incomplete, waiting for acceptance, expiring soon; a change to put back is changed
    behind git's back or not applied yet, told apart by --baseline REF) and a line counts
    each. Invitations waiting to be accepted and grants expiring within --expiring-within
    are listed but are not drift; an expired grant still live is."""
    if mask_emails:
        MASK_ERRORS.set()
    planned = state.plan(paths, api, policy, baseline=baseline, changed_since=changed_since)
    _show(
        planned,
        output_format,
        mask=mask_emails,
        show_waiting=show_waiting,
        max_length=max_length,
    )
    ctx.exit(_drift_exit(planned.plan))


def _drift_exit(the_plan: Plan) -> int:
    """drift never applies: a drifted world is drift (2) whatever the guards would say of
    applying it, the refusal said on stderr. A read that failed or may be incomplete is an
    error (1), not drift: nothing can be said of what it did not see."""
    unread = any(r.guard == "incomplete-read" for r in the_plan.refusals)
    if the_plan.refused and (unread or the_plan.in_sync):
        return refused(the_plan)
    if the_plan.refused:
        n = len(the_plan.refusals)
        click.echo(
            f"drift: applying this would be refused by {n} guard{'s' if n != 1 else ''} "
            "(listed on top of the plan); the drift is listed all the same.",
            err=True,
        )
    return EXIT_OK if the_plan.in_sync else EXIT_CHANGES


@click.command(epilog=_EPILOG_SHOW)
@click.argument("plan_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@_FORMAT
@MASK
def show(plan_file: Path, output_format: str, mask_emails: bool) -> None:
    """Show a saved plan FILE with its digest and what it is bound to. Offline: no
    credentials, no API call. A file that is not a plan this reconciler made, or that was
    edited after it was made, is refused (exit 1)."""
    if mask_emails:
        MASK_ERRORS.set()
    saved = state.saved(plan_file)
    click.echo(_render(saved, output_format, mask=mask_emails, bindings=True), nl=False)


COMMANDS: list[click.Command] = [plan, drift, show]
