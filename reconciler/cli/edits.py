"""Commands that write manifests from live state: `import`, `pin` and `adopt`."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from reconciler.cli.options import ApiOptions, api_options
from reconciler.cli.state import (
    DEFAULTS,
    EPILOG_ADOPT,
    EPILOG_IMPORT,
    EPILOG_PIN,
    PATHS,
)
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
)
from reconciler.escape import terminal
from reconciler.redact import redact
from reconciler.workflows import edits


@click.command("import", epilog=EPILOG_IMPORT)
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
    imported = edits.import_(api, out_dir, force=force)
    for path in imported.written:
        click.echo(f"wrote {path}")
    if imported.incomplete:
        # What could be read is written (with prune: false where affected), but an import
        # that silently misses accounts would make the next plan lie: say so, and fail.
        click.echo("Error: the live read was incomplete, so these manifests may miss", err=True)
        click.echo("accounts, links or users:", err=True)
        for item in imported.incomplete:
            click.echo(f"  {terminal(str(item.scope))}: {terminal(redact(item.reason))}", err=True)
        click.echo(
            f"Fix the cause and run the import again with --out {out_dir} --force.", err=True
        )
        ctx.exit(EXIT_ERROR)
    # The same world the import read: a command that works as printed.
    world = ["--sandbox-state", api.sandbox_state] if api.sandbox_state else ["--sandbox"]
    command = shlex.join(["reconciler", "plan", *(world if api.sandbox else []), str(out_dir)])
    click.echo(terminal(f"Next: {command} (it should show no changes)."))


@click.command(epilog=EPILOG_PIN)
@PATHS
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
    pinning = edits.pin(paths, api, dry_run=dry_run, include_held=include_held)
    for p in pinning.held:
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
    result = pinning.result
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


@click.command(epilog=EPILOG_ADOPT)
@PATHS
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
    default=DEFAULTS.expiring_within_days,
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
    if expiring_only and baseline is not None:
        raise click.UsageError("--expiring reads nothing live; --baseline is for adopt alone")
    adoption = edits.adopt(
        paths,
        api,
        show_diff=show_diff,
        expiring_only=expiring_only,
        expiring_within_days=expiring_within_days,
        baseline=baseline,
    )
    if show_diff:
        click.echo(adoption.diff(), nl=False)
    verb = "would adopt" if show_diff else "adopted"
    for line in adoption.adopted:
        click.echo(f"{verb}: {terminal(line)}", err=show_diff)
    for line in adoption.skipped:
        click.echo(f"not adopted: {terminal(line)}", err=True)
    if not adoption.files:
        click.echo("Nothing to adopt.", err=show_diff)
    ctx.exit(EXIT_CHANGES if adoption.files else EXIT_OK)


COMMANDS: list[click.Command] = [import_, pin, adopt]
