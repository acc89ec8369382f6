"""Commands about people rather than accounts: `access` (who holds what), `offboard` (remove
a person from the manifests) and `review` (the access-review pull request's edit)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.addresses import manifest_addresses
from reconciler.cli.helptext import CREDENTIALS_ENV, ERROR, SANDBOX_ENV, epilog
from reconciler.cli.options import MASK_ERRORS, ApiOptions, api_options
from reconciler.cli.state import MASK, PATHS
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from reconciler.escape import terminal
from reconciler.render.access import RENDERERS
from reconciler.render.mask import mask_addresses
from reconciler.workflows import people

_API_ENV = (*CREDENTIALS_ENV, *SANDBOX_ENV)


@click.command(
    epilog=epilog(
        env=_API_ENV,
        exits=((EXIT_OK, "listed"), (EXIT_ERROR, "error, or an account could not be read in full")),
    )
)
@PATHS
@click.option(
    "--person",
    metavar="WHO",
    default=None,
    help="Only this person: an address or a userId. A masked live address (a***@corp.example) "
    "is this person only when a userId pin or an exact address proves it.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(RENDERERS)),
    default="text",
    show_default=True,
    help="text for people, markdown for pull requests, json and csv for auditors.",
)
@click.option(
    "--overdue", is_flag=True, help="Only grants whose access review is due (`reviewEvery`)."
)
@MASK
@api_options
@click.pass_context
def access(
    ctx: click.Context,
    paths: tuple[str, ...],
    person: str | None,
    output_format: str,
    overdue: bool,
    mask_emails: bool,
    api: ApiOptions,
) -> None:
    """List every grant live on every account the manifests under PATH... manage: one row
    per person and account, with the role, the state (active, invited, invitation
    expired), where the manifests grant it (FILE:LINE and group, or live only), `expires:`,
    the review date, and access inherited through a manager account. Exit 1 when an
    account could not be read in full (the rows that could be read are listed)."""
    if mask_emails:
        MASK_ERRORS.set()
    listed = people.access(paths, api, person=person, overdue=overdue)
    found = listed.found
    keep = manifest_addresses(listed.desired)
    shown = RENDERERS[output_format](found, now=listed.now, mask=mask_emails, keep=keep)
    click.echo(shown, nl=False)
    if found.incomplete:
        names = ", ".join(str(scope) for scope, _ in found.incomplete)
        click.echo(terminal(f"Error: not read in full, grants may be missing: {names}"), err=True)
        ctx.exit(EXIT_ERROR)
    ctx.exit(EXIT_OK)


@click.command(
    epilog=epilog(
        env=_API_ENV,
        exits=((EXIT_OK, "nothing to change"), (EXIT_CHANGES, "files changed"), ERROR),
    )
)
@click.argument("who", metavar="WHO")
@PATHS
@click.option("--diff", "show_diff", is_flag=True, help="Print the change; write nothing.")
@MASK
@api_options
@click.pass_context
def offboard(
    ctx: click.Context,
    who: str,
    paths: tuple[str, ...],
    show_diff: bool,
    mask_emails: bool,
    api: ApiOptions,
) -> None:
    """Rewrite the manifests under PATH... so that WHO (an address or a userId) holds
    nothing: every entry and group membership naming them goes (only those lines change).
    An entry whose removal would leave an account without its admins is listed, not
    removed. Also lists where WHO still has access live on accounts the manifests do not
    manage (or keep unlisted users, `prune: false`): a merge cannot end that. Exit 0 when
    nothing changes, 2 when files changed (with --diff: would change)."""
    if mask_emails:
        MASK_ERRORS.set()
    offboarded = people.offboard(who, paths, api, show_diff=show_diff)
    keep = manifest_addresses(offboarded.desired)

    def shown(text: str) -> str:
        return terminal(mask_addresses(text, keep) if mask_emails else text)

    result = offboarded.result
    edit = result.adoption
    if show_diff:
        click.echo(edit.diff(), nl=False)
    for line in edit.adopted:
        click.echo(shown(line))
    for line in edit.skipped:
        click.echo(shown(line), err=True)
    for grant, why in result.elsewhere:
        role = grant.role or ", ".join(grant.permissions) or "access"
        name = f" ({grant.account_name})" if grant.account_name else ""
        click.echo(
            shown(
                f"still live, a merge does not end it ({why}): {grant.noun} "
                f"{grant.scope.key}{name}: {grant.email or '?'} ({grant.user_id or 'invited'}), "
                f"{role}, {grant.state}"
            )
        )
    for line in result.unread:
        click.echo(shown(f"not read in full, access there may be missing: {line}"), err=True)
    if not edit.files:
        click.echo("Nothing to change in the manifests.")
    ctx.exit(EXIT_CHANGES if edit.files else EXIT_OK)


@click.command(
    epilog=epilog(exits=((EXIT_OK, "nothing due"), (EXIT_CHANGES, "files changed"), ERROR))
)
@PATHS
@click.option("--diff", "show_diff", is_flag=True, help="Print the change; write nothing.")
@click.option(
    "--body",
    "body_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the pull request's body (markdown: the due grants per account, with "
    "the accounts' owners) to FILE.",
)
@click.option(
    "--mask-emails",
    is_flag=True,
    help="Mask every address (a***@example.com) in what is printed and in the body: a pull "
    "request is as public as the repository.",
)
@click.pass_context
def review(
    ctx: click.Context,
    paths: tuple[str, ...],
    show_diff: bool,
    body_file: Path | None,
    mask_emails: bool,
) -> None:
    """The access review: set `reviewed:` to today on every entry under PATH... whose
    review is due (`policy: {reviewEvery: 90d}`), for one pull request whose merge records
    the review; deleting an entry in it ends that grant instead. Lists the due grants per
    account. Reads nothing live. Exit 0 when nothing is due, 2 when files changed."""
    reviewed = people.review(paths, show_diff=show_diff, body_file=body_file, mask=mask_emails)
    result, text = reviewed.edit, reviewed.body
    if show_diff:
        click.echo(result.adoption.diff(), nl=False)
    # Escaped line by line: the body's own line breaks are its layout, not data.
    shown = "\n".join(terminal(line) for line in text.split("\n"))
    click.echo(shown, nl=False, err=show_diff)
    for line in result.adoption.skipped:
        click.echo(f"not bumped: {terminal(line)}", err=True)
    ctx.exit(EXIT_CHANGES if result.adoption.files else EXIT_OK)


COMMANDS: list[click.Command] = [access, offboard, review]
