"""`reconciler sandbox ...`: run and drive the built-in Amazon Ads API sandbox.

`serve` exposes it over loopback HTTP; the other commands change the persisted state file
(the world behind `--sandbox`), or a running server when given `--url`.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
from pathlib import Path
from typing import Any

import click
import httpx

from reconciler.errors import ConfigError, UsageError
from reconciler.redact import MASK
from reconciler.sandbox import SANDBOX_CLIENT_ID, Faults, World, open_state
from reconciler.sandbox.app import Sandbox
from reconciler.sandbox.control import apply_control
from reconciler.sandbox.faults import RetryAfter
from reconciler.sandbox.persist import lock_state, state_path
from reconciler.sandbox.seed import load_seed_file, read_seed
from reconciler.sandbox.server import SandboxServer, check_loopback

_STATE = click.option(
    "--state",
    "state",
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


def _seeded(seed: Path | None) -> World:
    return World.default() if seed is None else load_seed_file(World(), seed)


def _run(op: str, args: dict[str, Any], *, state: Path | None, url: str | None) -> Any:
    """Apply one sandbox operation to a running server (`url`) or to the state file."""
    if url is not None:
        base = url.rstrip("/")
        try:
            response = httpx.post(f"{base}/_sandbox/{op}", json=args, timeout=10.0)
        except httpx.HTTPError as exc:
            raise ConfigError(f"cannot reach the sandbox at {base}: {exc}") from exc
        if response.status_code != 200:
            raise UsageError(f"sandbox {op}: {response.json().get('error', response.text)}")
        return response.json().get("result")
    try:
        with open_state(state) as world:
            return apply_control(world, op, args)
    except KeyError as exc:
        raise UsageError(f"sandbox {op}: {exc.args[0] if exc.args else exc}") from exc
    except ValueError as exc:
        raise UsageError(f"sandbox {op}: {exc}") from exc


@click.group("sandbox")
def sandbox() -> None:
    """The built-in Amazon Ads API sandbox: serve it, reset it, change it out of band."""


@sandbox.command("serve")
@_SEED
@_STATE
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port", default=0, show_default=True, help="First of 4 consecutive ports; 0 = any free."
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
    type=click.Choice([r.value for r in RetryAfter]),
    default=RetryAfter.SECONDS.value,
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
    verbose: bool,
) -> None:
    """Serve the sandbox over loopback HTTP until interrupted.

    Prints AMAZON_ADS_* lines to use (or `eval`) in another shell. With --state, an existing
    state file is loaded (the seed is used only when it is absent) and saved after each write.
    """
    check_loopback(host, force=allow_remote)
    try:
        faults = Faults(
            latency_s=latency_ms / 1000.0,
            rate_limit_rps=rate_limit,
            rate_limit_burst=burst,
            p_429=fault_429,
            p_5xx=fault_5xx,
            p_drop=fault_drop,
            p_5xx_after_write=fault_5xx_after_write,
            p_drop_after_write=fault_drop_after_write,
            seed=fault_seed,
            op_rate_limits=tuple(_op_rate(text) for text in op_rate_limits),
            retry_after=RetryAfter(retry_after),
            throttled_header=throttled_header,
            html_429=html_429,
        )
        Sandbox(World(), faults)  # refuses an operation it does not know, naming those it does
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if state is None:
        _serve(_seeded(seed), faults, host, port, None, verbose)
        return
    with lock_state(state, timeout_s=1.0) as target:
        world = World.load(target) if target.exists() else _seeded(seed)
        world.save(target)
        _serve(world, faults, host, port, target, verbose)


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


def _serve(
    world: World, faults: Faults, host: str, port: int, target: Path | None, verbose: bool
) -> None:
    server = SandboxServer(
        world, faults=faults, host=host, port=port, state_path=target, verbose=verbose
    )
    endpoints = server.start()
    for line in endpoints.env_lines():
        key, _, value = line.partition("=")
        click.echo(f"{key}={shlex.quote(value)}")
    click.echo(f"AMAZON_ADS_CLIENT_ID={SANDBOX_CLIENT_ID}")
    click.echo(
        "# client secret and refresh token: the public sandbox values in the README. Ctrl-C stops.",
        err=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@sandbox.command("reset")
@_SEED
@_STATE
@_URL
def reset(seed: Path | None, state: Path | None, url: str | None) -> None:
    """Recreate the sandbox world from a seed (default: the built-in demo world)."""
    if url is not None:
        data = None if seed is None else read_seed(seed)
        _run("reset", {"seed": data}, state=None, url=url)
    else:
        with lock_state(state) as target:
            _seeded(seed).save(target)
    click.echo(f"sandbox reset from {seed or 'the built-in demo seed'}")


@sandbox.command("show")
@_STATE
@_URL
def show(state: Path | None, url: str | None) -> None:
    """Print the sandbox world as JSON (no tokens)."""
    if url is not None:
        data = httpx.get(f"{url.rstrip('/')}/_sandbox/state", timeout=10.0).json()
    else:
        target = state_path(state)
        data = (World.load(target) if target.exists() else World.default()).snapshot()
    # The state holds each emulated client's secret and refresh token; printed, they would
    # end up in CI logs (issue #6 security pass). Show the client ids only.
    data["clients"] = {client_id: [MASK, MASK] for client_id in data.get("clients", {})}
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@sandbox.command("accept")
@click.argument("amc_account_id")
@click.argument("invitation")
@_STATE
@_URL
def accept(amc_account_id: str, invitation: str, state: Path | None, url: str | None) -> None:
    """The invitee accepts INVITATION (an invitation id, or the invitee's email)."""
    args = {"amc_account_id": amc_account_id, "invitation_id": invitation}
    user_id = _run("accept", args, state=state, url=url)
    click.echo(f"accepted: {invitation} is now user {user_id} of {amc_account_id}")


@sandbox.command("expire")
@click.argument("amc_account_id")
@click.argument("invitation")
@_STATE
@_URL
def expire(amc_account_id: str, invitation: str, state: Path | None, url: str | None) -> None:
    """Make INVITATION (id or email) expire now."""
    args = {"amc_account_id": amc_account_id, "invitation_id": invitation}
    _run("expire", args, state=state, url=url)
    click.echo(f"expired: {invitation} on {amc_account_id}")


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


@sandbox.command("add-user")
@click.argument("amc_account_id")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "viewer"]), default="viewer")
@click.option("--user-id", default=None, help="Pin the userId (default: a generated one).")
@_STATE
@_URL
def add_user(
    amc_account_id: str,
    email: str,
    role: str,
    user_id: str | None,
    state: Path | None,
    url: str | None,
) -> None:
    """Give EMAIL access to an AMC account out of band (no invitation)."""
    args = {"amc_account_id": amc_account_id, "email": email, "role": role, "user_id": user_id}
    new_id = _run("add-user", args, state=state, url=url)
    click.echo(f"added: {email} as {role} of {amc_account_id} (userId {new_id})")


@sandbox.command("remove-user")
@click.argument("amc_account_id")
@click.argument("user_id")
@_STATE
@_URL
def remove_user(amc_account_id: str, user_id: str, state: Path | None, url: str | None) -> None:
    """Remove USER_ID from an AMC account out of band."""
    _run(
        "remove-user", {"amc_account_id": amc_account_id, "user_id": user_id}, state=state, url=url
    )
    click.echo(f"removed: {user_id} from {amc_account_id}")


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


COMMANDS: list[click.Command] = [sandbox]
