"""Commands over manifests alone (offline): `validate` and `schema`."""

from __future__ import annotations

import json
import os

import click

from reconciler.cli.helptext import GITHUB_ENV, epilog
from reconciler.errors import EXIT_ERROR, EXIT_OK, Diagnostic
from reconciler.model import Desired, ScopeKind
from reconciler.workflows import manifests


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(desired: Desired) -> str:
    """The one-line summary `validate` prints for valid manifests."""
    links = sum(len(m.links) for m in desired.manager_accounts)
    users = sum(len(a.users) for a in desired.accounts)
    amc = sum(1 for a in desired.accounts if a.kind is ScopeKind.AMC)
    others = len(desired.accounts) - amc
    people = f"{_plural(others, 'other account')} with people, " if others else ""
    return (
        f"{_plural(len(desired.files), 'file')} valid: "
        f"{_plural(len(desired.manager_accounts), 'manager account')}, "
        f"{_plural(links, 'linked account')}, "
        f"{_plural(amc, 'AMC account')}, {people}"
        f"{_plural(users, 'user')}"
    )


def _annotation(diagnostic: Diagnostic, level: str = "error") -> str:
    # GitHub workflow commands: `%`, CR and LF must be escaped in the message and properties.
    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    file = escape(diagnostic.file).replace(":", "%3A").replace(",", "%2C")
    return (
        f"::{level} file={file},line={diagnostic.line},col={diagnostic.col}::"
        f"{escape(diagnostic.message)}"
    )


@click.command(
    epilog=epilog(
        env=GITHUB_ENV,
        exits=((EXIT_OK, "the manifests are valid"), (EXIT_ERROR, "problems found (all listed)")),
    )
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(path_type=str))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for machines.",
)
@click.option(
    "--expiring-within",
    "expiring_within_days",
    metavar="DAYS",
    type=click.FloatRange(min=0.0),
    default=14.0,
    show_default=True,
    help="Warn when an account falls under its minAdmins because admin grants expire within DAYS.",
)
@click.pass_context
def validate(
    ctx: click.Context, paths: tuple[str, ...], output_format: str, expiring_within_days: float
) -> None:
    """Check manifests offline: every .yaml/.yml under PATH... Exit 0 when valid, 1 with
    every problem as FILE:LINE:COL: message otherwise. An account whose admins not yet
    expired (`expires:`) are fewer than its minAdmins is a problem; one that falls under it
    within --expiring-within is a warning."""
    found = manifests.validate(paths, expiring_within_days=expiring_within_days)
    warnings = found.warnings
    if found.desired is None or found.problems:
        diagnostics = found.problems
        if output_format == "json":
            document = {
                "valid": False,
                "diagnostics": [_json(d) for d in diagnostics],
                "warnings": [_json(d) for d in warnings],
            }
            click.echo(json.dumps(document, indent=2))
        else:
            for diagnostic in diagnostics:
                click.echo(str(diagnostic), err=True)
            _warn(warnings)
            click.echo(f"{_plural(len(diagnostics), 'problem')} found.", err=True)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            # The runner reads workflow commands from stdout and stderr alike; with --format
            # json they go to stderr so that stdout stays one JSON document.
            for diagnostic in diagnostics:
                click.echo(_annotation(diagnostic), err=output_format == "json")
            for warning in warnings:
                click.echo(_annotation(warning, "warning"), err=output_format == "json")
        ctx.exit(EXIT_ERROR)
    desired = found.desired
    if output_format == "json":
        document = {
            "valid": True,
            "files": list(desired.files),
            "summary": {
                "managerAccounts": len(desired.manager_accounts),
                "linkedAccounts": sum(len(m.links) for m in desired.manager_accounts),
                "amcAccounts": sum(1 for a in desired.accounts if a.kind is ScopeKind.AMC),
                "users": sum(len(a.users) for a in desired.accounts),
            },
            "diagnostics": [],
            "warnings": [_json(d) for d in warnings],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        _warn(warnings)
        click.echo(summary(desired))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for warning in warnings:
            click.echo(_annotation(warning, "warning"), err=output_format == "json")
    ctx.exit(EXIT_OK)


def _json(diagnostic: Diagnostic) -> dict[str, object]:
    return {
        "file": diagnostic.file,
        "line": diagnostic.line,
        "col": diagnostic.col,
        "message": diagnostic.message,
    }


def _warn(warnings: tuple[Diagnostic, ...]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@click.command(epilog=epilog(exits=((EXIT_OK, "printed"),)))
def schema() -> None:
    """Print the manifest JSON Schema (2020-12), for editors and other tools."""
    click.echo(json.dumps(manifests.schema(), indent=2))


COMMANDS: list[click.Command] = [validate, schema]
