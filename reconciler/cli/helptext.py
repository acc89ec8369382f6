"""Help text shared by the commands: the environment variables a command reads and the exit
codes it returns, as a click epilog, so every `--help` answers "what does it read, what does
it return" the same way.

Usage: `@click.command(epilog=epilog(env=SANDBOX_ENV, exits=(OK, INVALID)))`.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.errors import EXIT_BUG, EXIT_ERROR, EXIT_OK, EXIT_USAGE

EnvVar = tuple[str, str]
ExitCode = tuple[int, str]

# Environment variables, by who reads them.
CREDENTIALS_ENV: tuple[EnvVar, ...] = (
    ("AMAZON_ADS_CLIENT_ID", "Login with Amazon client id"),
    ("AMAZON_ADS_CLIENT_SECRET", "its client secret"),
    ("AMAZON_ADS_REFRESH_TOKEN", "a refresh token (Atzr|...)"),
    ("AMAZON_ADS_TOKEN_URL", "token endpoint (default: Amazon's)"),
    ("AMAZON_ADS_API_URL_NA", "NA API host (default: Amazon's); also _EU, _FE"),
)
SANDBOX_ENV: tuple[EnvVar, ...] = (
    ("RECONCILER_SANDBOX_STATE", "sandbox state file (default: .reconciler/sandbox.json)"),
)
GITHUB_ENV: tuple[EnvVar, ...] = (
    ("GITHUB_ACTIONS", "when `true`, also print ::error annotations"),
)

# Exit codes every command shares (`reconciler.errors`), and the common outcomes.
OK: ExitCode = (EXIT_OK, "ok")
ERROR: ExitCode = (EXIT_ERROR, "error")
USAGE: ExitCode = (EXIT_USAGE, "usage error (bad command line)")
BUG: ExitCode = (EXIT_BUG, "a bug in reconciler: please report it with the output")


def epilog(*, env: Sequence[EnvVar] = (), exits: Sequence[ExitCode] = ()) -> str:
    """An epilog listing `env` and `exits` (usage error and bug added), laid out as given.

    Each block starts with click's `\\b` marker, which keeps its lines from being rewrapped.
    """
    blocks: list[str] = []
    if env:
        blocks.append(_block("Environment:", env))
    codes = [*exits, *(code for code in (USAGE, BUG) if code not in exits)]
    blocks.append(_block("Exit codes:", [(str(number), text) for number, text in codes]))
    return "\n\n".join(blocks)


def _block(title: str, rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name.ljust(width)}  {text}" for name, text in rows]
    return "\n".join(["\b", title, *lines])
