"""Shared options for every command that talks to the Amazon Ads API.

    @click.command()
    @api_options
    def plan(api: ApiOptions, ...) -> None:
        the_plan = state.plan(paths, api, ...)

The options: `--sandbox`, `--sandbox-state FILE`, `--debug`, `--progress/--no-progress`,
given to the command as one `ApiOptions` (`reconciler.workflows.session`), which is what a
workflow opens its client with.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler.workflows.session import ApiOptions

R = TypeVar("R")

__all__ = ["MASK_ERRORS", "ApiOptions", "api_options"]

# Set by a command given --mask-emails: its error messages are masked too (they can name
# the people a refused plan was about, in a public CI log).
MASK_ERRORS = threading.Event()


_OPTIONS = (
    click.option(
        "--sandbox",
        is_flag=True,
        help="Talk to the built-in sandbox (an emulator of the Amazon Ads API) instead of "
        "Amazon. No credentials needed.",
    ),
    click.option(
        "--sandbox-state",
        metavar="FILE",
        type=click.Path(dir_okay=False),
        default=None,
        help="The sandbox state file (default: $RECONCILER_SANDBOX_STATE, else "
        ".reconciler/sandbox.json). Implies --sandbox.",
    ),
    click.option(
        "--debug",
        is_flag=True,
        help="Log every API request and response to stderr (credentials redacted).",
    ),
    click.option(
        "--progress/--no-progress",
        "show_progress",
        default=None,
        help="Show read progress on stderr (default: only when stderr is a terminal).",
    ),
)


def api_options(command: Callable[..., R]) -> Callable[..., R]:
    """Add the API options to a click command; it receives them as one `api` argument."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        sandbox: bool,
        sandbox_state: str | None,
        debug: bool,
        show_progress: bool | None,
        **kwargs: Any,
    ) -> R:
        api = ApiOptions.given(
            sandbox=sandbox, sandbox_state=sandbox_state, debug=debug, show_progress=show_progress
        )
        return command(*args, api=api, **kwargs)

    decorated: Callable[..., R] = wrapper
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated
