"""The command line: thin click commands over the library.

Each command parses its flags, calls one library function with keyword arguments, renders
the result and returns an exit code. This package is the only place that imports click, and
`main` is the only place that turns exceptions into exit codes (see `reconciler.errors`).
"""

from __future__ import annotations

import sys
import traceback

import click

from reconciler import version_line
from reconciler.cli.helptext import CREDENTIALS_ENV, SANDBOX_ENV, epilog
from reconciler.cli.options import MASK_ERRORS
from reconciler.errors import (
    EXIT_BUG,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    ReconcilerError,
)
from reconciler.escape import terminal
from reconciler.redact import redact
from reconciler.render.mask import mask_addresses

_EPILOG = (
    epilog(
        env=(*CREDENTIALS_ENV, *SANDBOX_ENV),
        exits=(
            (EXIT_OK, "ok; no changes"),
            (EXIT_ERROR, "error, or refused (a guard, a stale plan, no confirmation)"),
            (EXIT_CHANGES, "changes present: plan --detailed-exitcode, drift"),
            (EXIT_PARTIAL, "apply finished, but some actions failed or did not converge"),
            (EXIT_USAGE, "usage error (bad command line)"),
            (EXIT_BUG, "a bug in reconciler: please report it with the output"),
            (EXIT_INTERRUPTED, "apply interrupted (Ctrl-C / SIGTERM)"),
        ),
    )
    + "\n\n\b\nShell completion (bash; zsh and fish alike, see the README):\n"
    + '  eval "$(_RECONCILER_COMPLETE=bash_source reconciler)"'
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _version(ctx) if value else None,
    help="Show the version and the commit it was built from, and exit.",
)
def cli() -> None:
    """GitOps for Amazon Ads account access.

    Describe manager accounts, their linked accounts and who may use each Amazon Marketing
    Cloud account in YAML; reconciler plans and applies the difference. Every command that
    talks to Amazon takes --sandbox to run against the built-in emulator instead.
    """


def _version(ctx: click.Context) -> None:
    click.echo(f"reconciler, version {version_line()}")
    ctx.exit(EXIT_OK)


def _register() -> None:
    # Imported here so that each command module can import `cli` without a cycle.
    from reconciler.cli import apply, edits, manifest, sandbox, state

    for module in (manifest, sandbox, state, apply, edits):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point for the console script and `python -m reconciler`. Never returns."""
    MASK_ERRORS.clear()  # per run (tests call main many times in one process)
    try:
        code = cli.main(args=argv, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Exit as stop:
        code = stop.exit_code
    except click.UsageError as exc:
        exc.show()
        code = EXIT_USAGE
    except click.Abort as exc:
        # click turns Ctrl-C (at a prompt, or while reading) into Abort; say what it was.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, KeyboardInterrupt):
            click.echo("Interrupted: nothing was applied.", err=True)
            code = EXIT_INTERRUPTED
        else:
            click.echo("Aborted: no answer, nothing was applied.", err=True)
            code = EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except ReconcilerError as exc:
        # Messages carry names and addresses from the API and the manifests: each line is
        # escaped for the terminal, and masked when the command was asked to mask.
        text = redact(str(exc))
        if MASK_ERRORS.is_set():
            text = mask_addresses(text)
        click.echo("Error: " + "\n".join(terminal(line) for line in text.split("\n")), err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = EXIT_INTERRUPTED
    except Exception:  # a bug: say so, with the traceback, scrubbed of secrets
        click.echo(redact(traceback.format_exc()), err=True)
        click.echo(
            "This is a bug in reconciler. Please report it with the output above.",
            err=True,
        )
        code = EXIT_BUG
    sys.exit(code if isinstance(code, int) else 0)
