"""Shared options for every command that talks to the Amazon Ads API.

    @click.command()
    @api_options
    def plan(api: ApiOptions, ...) -> None:
        with api.open_client() as client:
            live = read_live(desired, client.reader(), progress=api.progress)

The options: `--sandbox`, `--sandbox-state FILE`, `--debug`, `--progress/--no-progress`.
The client itself is built by `reconciler.live.session.open_client`, nowhere else.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from reconciler.api import AdsClient
from reconciler.live.progress import Progress
from reconciler.live.session import open_client

R = TypeVar("R")

# Set by a command given --mask-emails: its error messages are masked too (they can name
# the people a refused plan was about, in a public CI log).
MASK_ERRORS = threading.Event()


@dataclass(frozen=True, slots=True)
class ApiOptions:
    sandbox: bool = False
    sandbox_state: str | None = None
    debug: bool = False
    show_progress: bool | None = None  # None: only when stderr is a terminal
    progress: Progress | None = field(default=None, compare=False)

    @contextmanager
    def open_client(self, **kwargs: Any) -> Iterator[AdsClient]:
        """The client for these options; extra keyword arguments go to `open_client`."""
        with open_client(
            sandbox=self.sandbox,
            sandbox_state=self.sandbox_state,
            env=os.environ,
            debug=self.debug,
            progress=self.progress,
            **kwargs,
        ) as client:
            yield client


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
        api = ApiOptions(
            sandbox=sandbox or sandbox_state is not None,
            sandbox_state=sandbox_state,
            debug=debug,
            show_progress=show_progress,
            progress=Progress.for_stderr(enabled=show_progress),
        )
        return command(*args, api=api, **kwargs)

    decorated: Callable[..., R] = wrapper
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated
