"""Commands over live state: `plan`, `apply`, `drift`, `import` (issue #5).

Exit codes (reconciler.errors): 0 ok / no changes, 1 error or refused, 2 changes present
(`plan --detailed-exitcode`, `drift`), 3 apply finished but something failed or did not
converge, 64 usage error; 130 when an apply was interrupted.

`apply` holds the apply lock (`reconciler.lock`; `--lock/--no-lock`, `--lock-timeout`) from
before it reads live state (or checks a saved plan) until it has verified.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler import lock as apply_lock
from reconciler import operations, planfile
from reconciler.api import AdsClient
from reconciler.apply import ActionResult, stop_on_signals
from reconciler.apply.render import render_report, result_line
from reconciler.baseline import manifests_at
from reconciler.cli.helptext import CREDENTIALS_ENV, ERROR, OK, SANDBOX_ENV, epilog
from reconciler.cli.options import ApiOptions, api_options
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    UsageError,
)
from reconciler.escape import terminal
from reconciler.importer import import_live
from reconciler.live import read_all
from reconciler.manifest import load_manifests
from reconciler.model import Desired
from reconciler.plan import Plan, Policy
from reconciler.progress import Progress
from reconciler.redact import redact
from reconciler.render import render_json, render_markdown, render_text
from reconciler.session import api_identity

R = TypeVar("R")
_DEFAULTS = Policy()

_GUARDS = (
    click.option(
        "--max-removals",
        type=click.IntRange(min=0),
        default=None,
        help=f"Refuse a plan that removes more links, users and invitations than this "
        f"[default: policy.maxRemovals in the manifests, else {_DEFAULTS.max_removals}].",
    ),
    click.option(
        "--max-removal-fraction",
        type=click.FloatRange(0.0, 1.0),
        default=None,
        help="Refuse a plan that removes more than this share of one account's members, "
        "beyond --removal-floor [default: policy.maxRemovalFraction in the manifests, else "
        f"{_DEFAULTS.max_removal_fraction:g}].",
    ),
    click.option(
        "--removal-floor",
        type=click.IntRange(min=0),
        default=None,
        help="This many removals per account are always allowed by --max-removal-fraction "
        f"[default: policy.removalFloor in the manifests, else {_DEFAULTS.removal_floor}].",
    ),
    click.option(
        "--resend-within",
        "resend_within_days",
        metavar="DAYS",
        type=click.FloatRange(min=0.0),
        default=None,
        help="Resend pending invitations that expire within this many days "
        f"[default: {_DEFAULTS.resend_within_days:g}].",
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
        default=_DEFAULTS.expiring_within_days,
        show_default=True,
        help="List grants whose `expires:` comes within this many days.",
    ),
)


def guard_options(command: Callable[..., R]) -> Callable[..., R]:
    """Add the guard flags; the command receives them as one `policy` argument, in which a
    flag given on the command line names itself in `policy.sources` (it then wins over the
    manifests' `policy:`, `reconciler.policy.effective`)."""

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
            max_removals=_DEFAULTS.max_removals if max_removals is None else max_removals,
            max_removal_fraction=_DEFAULTS.max_removal_fraction
            if max_removal_fraction is None
            else max_removal_fraction,
            removal_floor=_DEFAULTS.removal_floor if removal_floor is None else removal_floor,
            resend_within_days=_DEFAULTS.resend_within_days
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


_PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))

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
_EPILOG_APPLY = epilog(
    env=_API_ENV,
    exits=(
        (EXIT_OK, "done and converged, or nothing to do"),
        (EXIT_ERROR, "error, refused, stale or mismatched plan, or not confirmed"),
        (EXIT_PARTIAL, "something failed, was not sent, or did not converge"),
        (EXIT_INTERRUPTED, "interrupted (Ctrl-C, SIGTERM)"),
    ),
)
_EPILOG_SHOW = epilog(exits=((EXIT_OK, "shown"), (EXIT_ERROR, "not a usable plan file")))
_EPILOG_IMPORT = epilog(env=_API_ENV, exits=((EXIT_OK, "written"), ERROR))
_EPILOG_PIN = epilog(
    env=_API_ENV, exits=((EXIT_OK, "nothing pinned"), (EXIT_CHANGES, "pinned"), ERROR)
)
_EPILOG_ADOPT = epilog(
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
_SHOW_WAITING = click.option(
    "--show-waiting",
    is_flag=True,
    help="List every invitation waiting to be accepted (text; default: a count per account).",
)
_MASK = click.option(
    "--mask-emails",
    is_flag=True,
    help="Mask email addresses (a***@example.com) in text and markdown, for public logs.",
)


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _render(
    plan: Plan,
    output_format: str,
    *,
    mask: bool,
    bindings: bool = False,
    show_waiting: bool = True,
) -> str:
    if output_format == "json":
        return render_json(plan)
    if output_format == "markdown":
        return render_markdown(plan, mask_emails=mask, bindings=bindings)
    return render_text(
        plan, color=_color(), mask_emails=mask, bindings=bindings, show_waiting=show_waiting
    )


def _step_summary(plan: Plan, *, mask: bool) -> None:
    """GitHub Actions: append the markdown to the job summary page as well."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(render_markdown(plan, mask_emails=mask) + "\n")
    except OSError as exc:
        click.echo(f"warning: cannot write GITHUB_STEP_SUMMARY {target}: {exc}", err=True)


def _load(paths: tuple[str, ...]) -> Desired:
    if not paths:
        raise UsageError("name the manifests: a PATH (file or directory) is required")
    return load_manifests(paths)


def _context(api: ApiOptions, paths: tuple[str, ...]) -> operations.Context:
    identity = api_identity(sandbox=api.sandbox, sandbox_state=api.sandbox_state, env=os.environ)
    return operations.Context(
        identity=identity.text, commit=operations.find_commit(paths, os.environ)
    )


def _plan(
    paths: tuple[str, ...], api: ApiOptions, policy: Policy, baseline: str | None = None
) -> tuple[Desired, Plan]:
    desired = _load(paths)
    # Before anything is read live: a baseline that cannot be used stops here.
    revision = manifests_at(baseline, paths) if baseline is not None else None
    context = _context(api, paths)
    with api.open_client() as client:
        the_plan = operations.plan(
            desired, client, policy, context, baseline=revision, progress=api.progress
        )
    return desired, the_plan


_BASELINE = click.option(
    "--baseline",
    metavar="REF",
    default=None,
    help="The git commit (or branch, tag) whose manifests are known to be applied: the "
    "last successful apply. Each change is then labelled changed behind git's back (the "
    "manifests at REF would make it too) or not applied yet (only the manifests since REF "
    "ask for it). Without it the two cannot be told apart, and are not.",
)


@click.command(epilog=_EPILOG_PLAN)
@_PATHS
@click.option(
    "--out",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the plan file (JSON), for `reconciler apply --plan FILE`.",
)
@_FORMAT
@_MASK
@_SHOW_WAITING
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when the plan has changes (0 when none).",
)
@_BASELINE
@guard_options
@api_options
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[str, ...],
    out: Path | None,
    output_format: str,
    mask_emails: bool,
    show_waiting: bool,
    detailed_exitcode: bool,
    baseline: str | None,
    policy: Policy,
    api: ApiOptions,
) -> None:
    """Show what apply would change to make live state match the manifests under PATH...

    The plan ends with its digest (`Plan digest: sha256:...`): `apply --plan FILE` runs a
    saved plan only while a plan made from the manifests it is given has that digest."""
    if mask_emails:
        from reconciler.cli import MASK_ERRORS

        MASK_ERRORS.set()
    _, the_plan = _plan(paths, api, policy, baseline)
    if out is not None:
        planfile.write(out, the_plan)
    click.echo(
        _render(the_plan, output_format, mask=mask_emails, show_waiting=show_waiting), nl=False
    )
    _step_summary(the_plan, mask=mask_emails)
    if the_plan.refused:
        ctx.exit(_refused(the_plan))
    changed = detailed_exitcode and not the_plan.in_sync
    ctx.exit(EXIT_CHANGES if changed else EXIT_OK)


def _refused(the_plan: Plan) -> int:
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
@_MASK
@_SHOW_WAITING
@_PATHS
@_BASELINE
@guard_options
@api_options
@click.pass_context
def drift(
    ctx: click.Context,
    paths: tuple[str, ...],
    output_format: str,
    mask_emails: bool,
    show_waiting: bool,
    baseline: str | None,
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
        from reconciler.cli import MASK_ERRORS

        MASK_ERRORS.set()
    _, the_plan = _plan(paths, api, policy, baseline)
    click.echo(
        _render(the_plan, output_format, mask=mask_emails, show_waiting=show_waiting), nl=False
    )
    _step_summary(the_plan, mask=mask_emails)
    ctx.exit(_drift_exit(the_plan))


def _drift_exit(the_plan: Plan) -> int:
    """drift never applies: a drifted world is drift (2) whatever the guards would say of
    applying it, the refusal said on stderr. A read that failed or may be incomplete is an
    error (1), not drift: nothing can be said of what it did not see."""
    unread = any(r.guard == "incomplete-read" for r in the_plan.refusals)
    if the_plan.refused and (unread or the_plan.in_sync):
        return _refused(the_plan)
    if the_plan.refused:
        n = len(the_plan.refusals)
        click.echo(
            f"drift: applying this would be refused by {n} guard{'s' if n != 1 else ''} "
            "(listed on top of the plan); the drift is listed all the same.",
            err=True,
        )
    return EXIT_OK if the_plan.in_sync else EXIT_CHANGES


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
    """The apply lock for the API account these options reach (`reconciler.lock`): the
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


@click.command(epilog=_EPILOG_APPLY)
@_PATHS
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
@_MASK
@_SHOW_WAITING
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
    policy: Policy,
    api: ApiOptions,
) -> None:
    """Make live state match the manifests under PATH... (or apply a saved --plan FILE).

    Without --plan it plans first, shows the plan and asks on a terminal; --auto-approve
    skips the question. A saved plan was reviewed already and is applied without asking, but
    only if it is exactly the plan of PATH... now (see --plan). Either way it first takes
    the apply lock, so a second apply started meanwhile waits, then plans (or checks its
    saved plan) against what this one left."""
    if mask_emails:
        from reconciler.cli import MASK_ERRORS

        MASK_ERRORS.set()
    desired = _load(paths)
    saved = planfile.read(plan_file) if plan_file is not None else None
    context = _context(api, paths)
    with (
        _locked(api, enabled=use_lock, timeout_s=lock_timeout_s),
        api.open_client() as client,
    ):
        if saved is None:
            the_plan = operations.plan(desired, client, policy, context, progress=api.progress)
            confirm = None if auto_approve else _confirm
        else:
            the_plan = operations.check_saved(
                saved, desired, client, policy, context, progress=api.progress
            )
            click.echo(f"The saved plan {plan_file} is the plan of these manifests now.")
            confirm = None
        shown = render_text(
            the_plan, color=_color(), mask_emails=mask_emails, show_waiting=show_waiting
        )
        click.echo(shown, nl=False)
        if the_plan.refused:
            click.echo("Nothing was applied.", err=True)
            ctx.exit(_refused(the_plan))
        code = _run_apply(the_plan, desired, client, confirm, journal, mask_emails, api.progress)
    ctx.exit(code)


def _confirm(the_plan: Plan) -> bool:
    return _approved(False)


def _run_apply(
    the_plan: Plan,
    desired: Desired,
    client: AdsClient,
    confirm: Callable[[Plan], bool] | None,
    journal: Path | None,
    mask_emails: bool,
    progress: Progress | None = None,
) -> int:
    """Apply under the lock the caller holds; report; the exit code."""
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
        click.echo(result_line(result, mask_emails=mask_emails))
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
    click.echo(render_report(outcome.report, mask_emails=mask_emails), nl=False)
    return outcome.report.exit_code


@click.command(epilog=_EPILOG_SHOW)
@click.argument("plan_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@_FORMAT
@_MASK
def show(plan_file: Path, output_format: str, mask_emails: bool) -> None:
    """Show a saved plan FILE with its digest and what it is bound to. Offline: no
    credentials, no API call. A file that is not a plan this reconciler made, or that was
    edited after it was made, is refused (exit 1)."""
    if mask_emails:
        from reconciler.cli import MASK_ERRORS

        MASK_ERRORS.set()
    saved = planfile.read(plan_file)
    click.echo(_render(saved, output_format, mask=mask_emails, bindings=True), nl=False)


@click.command("import", epilog=_EPILOG_IMPORT)
@click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the manifests under this directory.",
)
@click.option("--force", is_flag=True, help="Replace files that already exist.")
@api_options
@click.pass_context
def import_(ctx: click.Context, out_dir: Path, force: bool, api: ApiOptions) -> None:
    """Write manifests that describe everything live: `import` then `plan` shows no changes."""
    with api.open_client() as client:
        live = read_all(client.reader(), progress=api.progress)
    written = import_live(live, out_dir, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    if live.incomplete:
        # What could be read is written (with prune: false where affected), but an import
        # that silently misses accounts would make the next plan lie: say so, and fail.
        click.echo("Error: the live read was incomplete, so these manifests may miss", err=True)
        click.echo("accounts, links or users:", err=True)
        for item in sorted(live.incomplete):
            click.echo(f"  {item.scope}: {redact(item.reason)}", err=True)
        click.echo(
            f"Fix the cause and run the import again with --out {out_dir} --force.", err=True
        )
        ctx.exit(EXIT_ERROR)
    click.echo(f"Next: reconciler plan {out_dir} (it should show no changes).")


@click.command(epilog=_EPILOG_PIN)
@_PATHS
@click.option("--dry-run", is_flag=True, help="Say what would be pinned; write nothing.")
@click.option(
    "--held",
    "include_held",
    is_flag=True,
    help="Also pin entries whose role differs live (a role change waits on the pin): check "
    "first that the live user really is that person.",
)
@api_options
@click.pass_context
def pin(
    ctx: click.Context, paths: tuple[str, ...], dry_run: bool, include_held: bool, api: ApiOptions
) -> None:
    """Write the proposed `userId:` pins into the manifests under PATH...

    An entry that a live user fits only by masked address (the API shows a***@corp.example)
    is a candidate, never proof: no role is changed on it until a `userId:` says who it is.
    This reads live state, plans, and writes `userId: <id>` into each such entry, changing
    only those lines (comments and layout stay). Review the diff before you commit it: a
    pin says "this live user is that person". An entry whose role differs live is not
    pinned unless --held: the fit may be someone else (a***@ is andrew, not alice). Exit 0
    nothing pinned, 2 pins written."""
    from reconciler.pin import write_pins

    desired = _load(paths)
    permissive = Policy(
        max_removals=10**9,
        max_removal_fraction=1.0,
        now=time.time(),
        allow_incomplete=True,
        allow_unresolved=True,
        allow_fewer_admins=True,
    )
    with api.open_client() as client:
        the_plan = operations.plan(desired, client, permissive, _context(api, paths))
    unread = {n.scope for n in the_plan.unread}
    pins = [p for p in the_plan.pins if str(p.scope) not in unread]
    # One line may be proposed by several accounts (a group member): if a role change waits
    # on any of them, the line is held, whatever the others say.
    held_lines = {(p.file, p.line) for p in pins if p.held}
    held = [p for p in pins if (p.file, p.line) in held_lines and not include_held]
    for p in held:
        if not p.held:
            continue
        click.echo(
            terminal(
                f"not pinned: {p.file}:{p.line}: {p.email} fits {p.user_id} ({p.masked}) but a "
                f"role change waits on it ({p.held}): check who {p.user_id} is, then pin by "
                f"hand, pass --held, or add `notUserIds: [{p.user_id}]`"
            ),
            err=True,
        )
    result = write_pins([p for p in pins if p not in held], dry_run=dry_run)
    verb = "would pin" if dry_run else "pinned"
    for p in result.written:
        click.echo(
            terminal(f"{verb} {p.file}:{p.line}: {p.email} -> userId: {p.user_id} ({p.masked})")
        )
    for p, why in result.skipped:
        click.echo(terminal(f"not pinned: {p.email} -> {p.user_id}: {why}"), err=True)
    if not result.written:
        click.echo("Nothing to pin.")
    ctx.exit(EXIT_CHANGES if result.written else EXIT_OK)


@click.command(epilog=_EPILOG_ADOPT)
@_PATHS
@click.option("--diff", "show_diff", is_flag=True, help="Print the change; write nothing.")
@click.option(
    "--expiring",
    "expiring_only",
    is_flag=True,
    help="Instead: remove the entries whose `expires:` has passed or comes within "
    "--expiring-within, for a pull request that ends or extends them. Reads nothing live.",
)
@click.option(
    "--expiring-within",
    "expiring_within_days",
    metavar="DAYS",
    type=click.FloatRange(min=0.0),
    default=_DEFAULTS.expiring_within_days,
    show_default=True,
    help="With --expiring: how far ahead to look.",
)
@click.option(
    "--baseline",
    metavar="REF",
    default=None,
    help="The git commit (or branch, tag) of the last successful apply: adopt only what "
    "changed behind git's back, never a manifest change merged since REF and not applied "
    "yet (listed instead). Without it every difference is adopted.",
)
@api_options
@click.pass_context
def adopt(
    ctx: click.Context,
    paths: tuple[str, ...],
    show_diff: bool,
    expiring_only: bool,
    expiring_within_days: float,
    baseline: str | None,
    api: ApiOptions,
) -> None:
    """Rewrite the manifests under PATH... to describe what is live for the accounts they
    manage: out-of-band additions, removals and role changes become manifest edits.

    Only the lines that change, change (comments, order and layout stay). A change on an
    account that gets a person through a shared group lists that group's members one by one
    on that account only, with a comment. Live users are added pinned by `userId:`, with the
    masked address Amazon shows in a comment. Expired `expires:` grants, expired invitations,
    masked-only fits and incompletely read accounts are not adopted (listed). With
    --baseline REF (the last successful apply) only changes made behind git's back are
    adopted, never a merged change that is not applied yet. Exit 0 when there is nothing to
    adopt, 2 when files changed (with --diff: would change)."""
    from reconciler.adopt import expiring
    from reconciler.adopt import write as write_adoption
    from reconciler.escape import terminal

    if expiring_only and baseline is not None:
        raise click.UsageError("--expiring reads nothing live; --baseline is for adopt alone")
    desired = _load(paths)
    if expiring_only:
        adoption = expiring(desired, now=time.time(), within_days=expiring_within_days)
    else:
        # Before anything is read live: a baseline that cannot be used stops here.
        revision = manifests_at(baseline, paths) if baseline is not None else None
        with api.open_client() as client:
            adoption = operations.adopt(
                desired, client, now=time.time(), baseline=revision, progress=api.progress
            )
    if show_diff:
        click.echo(adoption.diff(), nl=False)
    else:
        write_adoption(adoption)
    verb = "would adopt" if show_diff else "adopted"
    for line in adoption.adopted:
        click.echo(f"{verb}: {terminal(line)}", err=show_diff)
    for line in adoption.skipped:
        click.echo(f"not adopted: {terminal(line)}", err=True)
    if not adoption.files:
        click.echo("Nothing to adopt.", err=show_diff)
    ctx.exit(EXIT_CHANGES if adoption.files else EXIT_OK)


COMMANDS: list[click.Command] = [plan, apply, drift, import_, show, pin, adopt]
