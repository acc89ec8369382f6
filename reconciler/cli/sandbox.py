"""`reconciler sandbox ...`: run and drive the built-in Amazon Ads API sandbox.

`serve` exposes it over loopback HTTP; the other commands change the persisted state file
(the world behind `--sandbox`), or a running server when given `--url`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli.helptext import OK, SANDBOX_ENV, epilog
from reconciler.errors import EXIT_ERROR, UsageError
from reconciler.escape import terminal
from reconciler.model import ScopeKind
from reconciler.workflows import sandbox as workflow

_STATE = click.option(
    "--sandbox-state",
    "state",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="State file (default: $RECONCILER_SANDBOX_STATE or .reconciler/sandbox.json).",
)
_URL = click.option(
    "--url",
    default=None,
    help="Change a running `sandbox serve` instead of the state file (any of its URLs).",
)
_SEED = click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Seed YAML (format: examples/sandbox-seed.yaml). Default: the built-in demo world.",
)


def _note(text: str) -> None:
    click.echo(text, err=True)


def _run(op: str, args: dict[str, Any], *, state: Path | None, url: str | None) -> Any:
    """Apply one sandbox operation to a running server (`url`) or to the state file."""
    return workflow.run(op, args, state=state, url=url, say=_note)


def _account_arg(text: str) -> dict[str, Any]:
    """ACCOUNT: an account id, or `KIND:ID` (manager, sponsored-ads, dsp, amc) when an id
    alone could name two accounts."""
    return {"account": text}


def _names(text: str | None) -> list[str]:
    """A comma-separated option (`--countries US,CA`, `--permissions a,b`) as a list."""
    return [x.strip() for x in (text or "").split(",") if x.strip()]


@click.group("sandbox")
def sandbox() -> None:
    """The built-in Amazon Ads API sandbox: serve it, reset it, change it out of band."""


@sandbox.command("serve")
@_SEED
@_STATE
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=click.IntRange(0, 65535 - 3),
    default=0,
    show_default=True,
    help="First of 4 consecutive ports; 0 = any free.",
)
@click.option("--allow-remote", is_flag=True, help="Allow binding a non-loopback address.")
@click.option("--latency-ms", type=float, default=0.0, help="Delay every API response.")
@click.option("--rate-limit", type=float, default=None, help="Requests/second per client id.")
@click.option("--burst", type=int, default=None, help="Token bucket size (default: the rate).")
@click.option(
    "--op-rate-limit",
    "op_rate_limits",
    multiple=True,
    metavar="OPERATION=RPS",
    help="Requests/second per client id for one operationId (e.g. QueryUserRoles=120), on "
    "top of --rate-limit; repeatable.",
)
@click.option(
    "--retry-after",
    type=click.Choice(workflow.RETRY_AFTER),
    default=workflow.DEFAULT_RETRY_AFTER,
    show_default=True,
    help="How a 429 says when to retry: delta-seconds, an HTTP date, or no Retry-After.",
)
@click.option(
    "--throttled-header",
    is_flag=True,
    help="429s carry `amazon-advertising-api-throttled: true`.",
)
@click.option(
    "--html-429", is_flag=True, help="429s carry a gateway's HTML page, not the JSON error."
)
@click.option("--fault-429", type=float, default=0.0, help="Probability of a random 429.")
@click.option("--fault-5xx", type=float, default=0.0, help="Probability of a 500, no effect.")
@click.option("--fault-drop", type=float, default=0.0, help="Probability of a dropped connection.")
@click.option("--fault-5xx-after-write", type=float, default=0.0, help="Write applied, then 500.")
@click.option(
    "--fault-drop-after-write", type=float, default=0.0, help="Write applied, then dropped."
)
@click.option("--fault-seed", type=int, default=0, help="Seed for the fault sequence.")
@click.option(
    "--strict-media-types",
    is_flag=True,
    help="Media types in the spec's exact case, and Accept only the response's type "
    "(default: lenient, as Amazon's own tolerance is unknown).",
)
@click.option("--verbose", is_flag=True, help="Log each request line to stderr.")
def serve(
    seed: Path | None,
    state: Path | None,
    host: str,
    port: int,
    allow_remote: bool,
    latency_ms: float,
    rate_limit: float | None,
    burst: int | None,
    op_rate_limits: tuple[str, ...],
    retry_after: str,
    throttled_header: bool,
    html_429: bool,
    fault_429: float,
    fault_5xx: float,
    fault_drop: float,
    fault_5xx_after_write: float,
    fault_drop_after_write: float,
    fault_seed: int,
    strict_media_types: bool,
    verbose: bool,
) -> None:
    """Serve the sandbox over loopback HTTP until interrupted.

    Prints `export AMAZON_ADS_...` lines, the public sandbox credentials included, to paste
    into another shell. With --sandbox-state, an existing state file is loaded (the seed is
    used only when it is absent) and saved after each write.
    """
    workflow.serve(
        seed=seed,
        state=state,
        host=host,
        port=port,
        allow_remote=allow_remote,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        burst=burst,
        op_rate_limits=tuple(_op_rate(text) for text in op_rate_limits),
        retry_after=retry_after,
        throttled_header=throttled_header,
        html_429=html_429,
        fault_429=fault_429,
        fault_5xx=fault_5xx,
        fault_drop=fault_drop,
        fault_5xx_after_write=fault_5xx_after_write,
        fault_drop_after_write=fault_drop_after_write,
        fault_seed=fault_seed,
        verbose=verbose,
        strict_media_types=strict_media_types,
        announce=_announce,
    )


def _op_rate(text: str) -> tuple[str, float]:
    operation, sep, rps = text.partition("=")
    try:
        if not sep or not operation.strip():
            raise ValueError
        return operation.strip(), float(rps)
    except ValueError:
        raise UsageError(
            f"--op-rate-limit {text!r}: expected OPERATION=RPS, e.g. QueryUserRoles=120"
        ) from None


def _announce(env: list[tuple[str, str]], serving: str) -> None:
    # Paste the output into another shell and any command talks here.
    for key, value in env:
        click.echo(f"export {key}={shlex.quote(value)}")
    click.echo(
        "# paste the export lines above into another shell (the sandbox's credentials are "
        "public, fake values). Ctrl-C stops.",
        err=True,
    )
    # Which world this is: a user who meant their own state file and got the demo world sees
    # it here, not three commands later.
    click.echo(serving, err=True)


@sandbox.command("reset")
@_SEED
@_STATE
@_URL
def reset(seed: Path | None, state: Path | None, url: str | None) -> None:
    """Recreate the sandbox world from a seed (default: the built-in demo world)."""
    workflow.reset(seed=seed, state=state, url=url)
    click.echo(f"sandbox reset from {seed or 'the built-in demo seed'}")


@sandbox.command("show")
@_STATE
@_URL
def show(state: Path | None, url: str | None) -> None:
    """Print the sandbox world as JSON (no tokens)."""
    data = workflow.show(state=state, url=url, say=_note)
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@sandbox.command("accept")
@click.argument("account")
@click.argument("invitation")
@_STATE
@_URL
def accept(account: str, invitation: str, state: Path | None, url: str | None) -> None:
    """The invitee accepts INVITATION (an invitation id, or the invitee's email) to ACCOUNT
    (an id, or KIND:ID). They get their one user id: the one their address already holds on
    any account of the sandbox, else a new one."""
    args = {**_account_arg(account), "invitation_id": invitation}
    user_id = _run("accept", args, state=state, url=url)
    click.echo(f"accepted: {invitation} is now user {terminal(str(user_id))} of {account}")


@sandbox.command("expire")
@click.argument("account")
@click.argument("invitation")
@_STATE
@_URL
def expire(account: str, invitation: str, state: Path | None, url: str | None) -> None:
    """Make INVITATION (id or email) to ACCOUNT (id, or KIND:ID) expire now."""
    args = {**_account_arg(account), "invitation_id": invitation}
    _run("expire", args, state=state, url=url)
    click.echo(f"expired: {invitation} on {account}")


@sandbox.command("link")
@click.argument("manager_account_id")
@click.argument("account_id")
@_STATE
@_URL
def link(manager_account_id: str, account_id: str, state: Path | None, url: str | None) -> None:
    """Link ACCOUNT_ID to a manager account out of band."""
    args = {"manager_account_id": manager_account_id, "account_id": account_id}
    _run("link", args, state=state, url=url)
    click.echo(f"linked: {account_id} to {manager_account_id}")


@sandbox.command("unlink")
@click.argument("manager_account_id")
@click.argument("account_id")
@_STATE
@_URL
def unlink(manager_account_id: str, account_id: str, state: Path | None, url: str | None) -> None:
    """Unlink ACCOUNT_ID from a manager account out of band."""
    args = {"manager_account_id": manager_account_id, "account_id": account_id}
    _run("unlink", args, state=state, url=url)
    click.echo(f"unlinked: {account_id} from {manager_account_id}")


_KINDS = click.Choice([k.value for k in ScopeKind])
_COUNTRIES = click.option(
    "--countries",
    default=None,
    metavar="CC,CC",
    help="Countries the access holds in (sponsored-ads accounts only), e.g. US,CA; set-role "
    "and set-permissions keep where the user holds now without it (or --all-countries).",
)
_PERMISSIONS = click.option(
    "--permissions",
    default=None,
    metavar="NAME,NAME",
    help="A custom permission set instead of a role (sponsored-ads and DSP accounts), e.g. "
    "campaign_edit,reports_view.",
)


@sandbox.command("add-account")
@click.argument("kind", type=_KINDS)
@click.argument("account_id")
@click.option("--name", default="", help="Display name (default: the id).")
@click.option("--viewer-only", is_flag=True, help="These credentials may read it, not write.")
@_STATE
@_URL
def add_account(
    kind: str,
    account_id: str,
    name: str,
    viewer_only: bool,
    state: Path | None,
    url: str | None,
) -> None:
    """Create an account of KIND (manager, sponsored-ads, dsp, amc) with nobody on it."""
    args = {"kind": kind, "account_id": account_id, "name": name, "viewer_only": viewer_only}
    address = _run("add-account", args, state=state, url=url)
    click.echo(f"added: account {terminal(str(address))}")


def _grant_args(role: str | None, permissions: str | None, countries: str | None) -> dict[str, Any]:
    if (role is None) == (permissions is None):
        raise UsageError("give a role or --permissions, not both")
    return {"role": role, "permissions": _names(permissions), "countries": _names(countries)}


@sandbox.command("add-user")
@click.argument("account")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), default=None)
@_PERMISSIONS
@_COUNTRIES
@click.option("--user-id", default=None, help="Pin the userId (default: the person's own).")
@_STATE
@_URL
def add_user(
    account: str,
    email: str,
    role: str | None,
    permissions: str | None,
    countries: str | None,
    user_id: str | None,
    state: Path | None,
    url: str | None,
) -> None:
    """Give EMAIL access to ACCOUNT (an id, or KIND:ID) out of band (no invitation): a role
    (default viewer) or a custom permission set, in countries on a sponsored-ads account."""
    if role is None and permissions is None:
        role = "viewer"
    args = {**_account_arg(account), "email": email, "user_id": user_id}
    args.update(_grant_args(role, permissions, countries))
    new_id = _run("add-user", args, state=state, url=url)
    held = role if role is not None else f"permissions {permissions}"
    click.echo(f"added: {email} as {held} of {account} (userId {terminal(str(new_id))})")


def _set(
    account: str,
    user_id: str,
    grant: dict[str, Any],
    *,
    keep_other_countries: bool,
    all_countries: bool,
    state: Path | None,
    url: str | None,
) -> None:
    if all_countries and grant["countries"]:
        raise UsageError("give --countries or --all-countries, not both")
    args = {**_account_arg(account), "user_id": user_id, **grant}
    args["keep_other_countries"] = keep_other_countries
    # Without --countries a console change of the role or the permissions keeps where the
    # user holds; --all-countries gives it on the whole account.
    args["keep_countries"] = not grant["countries"] and not all_countries
    _run("set-grant", args, state=state, url=url)


_ALL = click.option(
    "--all-countries",
    is_flag=True,
    help="Give the role or set on the whole account (no countries), whatever the user held.",
)
_KEEP = click.option(
    "--keep-other-countries",
    is_flag=True,
    help="Change only the countries given; the user keeps what they hold in the others.",
)


F = TypeVar("F", bound=Callable[..., Any])


def _WHERE(command: F) -> F:
    """Where a console change of a grant holds, and which sandbox it goes to."""
    for option in (_URL, _STATE, _ALL, _KEEP, _COUNTRIES):
        command = option(command)
    return command


@sandbox.command("set-role")
@click.argument("account")
@click.argument("user_id")
@click.argument("role", type=click.Choice(["admin", "editor", "viewer"]))
@_WHERE
def set_role(
    account: str,
    user_id: str,
    role: str,
    countries: str | None,
    keep_other_countries: bool,
    all_countries: bool,
    state: Path | None,
    url: str | None,
) -> None:
    """Give USER_ID the role ROLE on ACCOUNT out of band, as a console change would."""
    grant = _grant_args(role, None, countries)
    _set(
        account,
        user_id,
        grant,
        keep_other_countries=keep_other_countries,
        all_countries=all_countries,
        state=state,
        url=url,
    )
    click.echo(f"changed: {user_id} is {role} of {account}")


@sandbox.command("set-permissions")
@click.argument("account")
@click.argument("user_id")
@click.argument("permissions")
@_WHERE
def set_permissions(
    account: str,
    user_id: str,
    permissions: str,
    countries: str | None,
    keep_other_countries: bool,
    all_countries: bool,
    state: Path | None,
    url: str | None,
) -> None:
    """Give USER_ID the custom permission set PERMISSIONS (comma-separated) on ACCOUNT."""
    grant = _grant_args(None, permissions, countries)
    _set(
        account,
        user_id,
        grant,
        keep_other_countries=keep_other_countries,
        all_countries=all_countries,
        state=state,
        url=url,
    )
    click.echo(f"changed: {user_id} holds {permissions} on {account}")


@sandbox.command("set-countries")
@click.argument("account")
@click.argument("user_id")
@click.argument("countries")
@_STATE
@_URL
def set_countries(
    account: str, user_id: str, countries: str, state: Path | None, url: str | None
) -> None:
    """Move USER_ID's access on a sponsored-ads ACCOUNT to COUNTRIES (comma-separated),
    keeping their role or permission set (one set: a user holding several says which with
    set-role or set-permissions)."""
    args = {**_account_arg(account), "user_id": user_id, "countries": _names(countries)}
    _run("set-countries", args, state=state, url=url)
    click.echo(f"changed: {user_id} holds access on {account} in {countries}")


@sandbox.command("remove-user")
@click.argument("account")
@click.argument("user_id")
@_STATE
@_URL
def remove_user(account: str, user_id: str, state: Path | None, url: str | None) -> None:
    """Remove USER_ID from ACCOUNT (an id, or KIND:ID) out of band."""
    _run("remove-user", {**_account_arg(account), "user_id": user_id}, state=state, url=url)
    click.echo(f"removed: {user_id} from {account}")


@sandbox.command("clock")
@_STATE
@_URL
def clock(state: Path | None, url: str | None) -> None:
    """Print the sandbox's clock (what its invitations expire by): epoch seconds and UTC."""
    now = workflow.clock(state=state, url=url)
    stamp = datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="seconds")
    click.echo(f"{now:.3f} {stamp}")


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@sandbox.command("advance-clock")
@click.argument("duration")
@_STATE
@_URL
def advance_clock(duration: str, state: Path | None, url: str | None) -> None:
    """Move the sandbox clock forward by DURATION: seconds, or e.g. 90m, 2h, 15d."""
    match = _DURATION.match(duration.strip())
    if match is None:
        raise UsageError(f"duration {duration!r}: use a number of seconds, or 90m, 2h, 15d")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    _run("advance-clock", {"seconds": seconds}, state=state, url=url)
    click.echo(f"clock advanced by {seconds:g} s")


def _help_epilogs() -> None:
    # Set in one place rather than on each decorator: every sandbox command reads the same
    # variable and returns the same codes.
    exits = (OK, (EXIT_ERROR, "error (state file locked, sandbox unreachable)"))
    for command in (sandbox, *sandbox.commands.values()):
        command.epilog = epilog(env=SANDBOX_ENV, exits=exits)
    serve.epilog = epilog(env=SANDBOX_ENV, exits=((0, "stopped with Ctrl-C"), exits[1]))


_help_epilogs()

COMMANDS: list[click.Command] = [sandbox]
