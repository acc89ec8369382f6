"""`reconciler sandbox ...`: serve the built-in sandbox, and change its world out of band,
in the persisted state file (the world behind `--sandbox`) or in a running server (`url`,
through its control API, `reconciler.workflows.served`).

`say` is where a note for the person goes (the command line's stderr): a state file made
from the demo world because none existed is said before the operation runs, so a mistyped
path does not pass for the person's own world.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.errors import UsageError
from reconciler.redact import MASK
from reconciler.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    Faults,
    World,
    open_state,
)
from reconciler.sandbox.app import Sandbox
from reconciler.sandbox.control import apply_control
from reconciler.sandbox.faults import RetryAfter
from reconciler.sandbox.persist import lock_state, state_path
from reconciler.sandbox.seed import read_seed
from reconciler.sandbox.server import SandboxServer, check_loopback
from reconciler.workflows import served

RETRY_AFTER = tuple(r.value for r in RetryAfter)
DEFAULT_RETRY_AFTER = RetryAfter.SECONDS.value

Say = Callable[[str], None]


def _seeded(seed: Path | None) -> World:
    return World.default() if seed is None else World.from_seed_file(seed)


def run(op: str, args: dict[str, Any], *, state: Path | None, url: str | None, say: Say) -> Any:
    """Apply one sandbox operation (`reconciler.sandbox.control`) to a running server (`url`)
    or to the state file; its result."""
    if url is not None:
        return served.call("POST", url, op, args).get("result")
    _say_if_created(state, say)
    try:
        with open_state(state) as world:
            return apply_control(world, op, args)
    except KeyError as exc:
        raise UsageError(f"sandbox {op}: {exc.args[0] if exc.args else exc}") from exc
    except ValueError as exc:
        raise UsageError(f"sandbox {op}: {exc}") from exc


def _say_if_created(state: Path | None, say: Say) -> None:
    target = state_path(state)
    if not target.exists():
        say(
            f"note: {target} did not exist; it now holds the built-in demo world "
            "(`reconciler sandbox reset --seed FILE` starts from yours)"
        )


def reset(*, seed: Path | None, state: Path | None, url: str | None) -> None:
    """Recreate the world from `seed` (None: the built-in demo world)."""
    if url is not None:
        data = None if seed is None else read_seed(seed)
        served.call("POST", url, "reset", {"seed": data})
    else:
        with lock_state(state) as target:
            _seeded(seed).save(target)


def show(*, state: Path | None, url: str | None, say: Say) -> dict[str, Any]:
    """The world as JSON data, with each emulated client's secret and refresh token masked:
    printed, they would end up in CI logs."""
    if url is not None:
        data: dict[str, Any] = served.call("GET", url, "state")
    else:
        target = state_path(state)
        if not target.exists():
            say(f"note: {target} does not exist; showing the built-in demo world")
        data = (World.load(target) if target.exists() else World.default()).snapshot()
    data["clients"] = {client_id: [MASK, MASK] for client_id in data.get("clients", {})}
    return data


def clock(*, state: str | Path | None, url: str | None) -> float:
    """The sandbox's clock (what its invitations and `expires:` are judged by), in epoch
    seconds: a running server's, or the state file's (the demo world's when there is none).
    Reads only: nothing is created or saved."""
    if url is not None:
        return served.clock(url)
    target = state_path(state)
    return (World.load(target) if target.exists() else World.default()).now()


def _split(line: str) -> tuple[str, str, str]:
    return line.partition("=")


def serve(
    *,
    seed: Path | None,
    state: Path | None,
    host: str,
    port: int,
    allow_remote: bool,
    latency_ms: float,
    rate_limit: float | None,
    burst: int | None,
    op_rate_limits: tuple[tuple[str, float], ...],
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
    strict_media_types: bool,
    announce: Callable[[list[tuple[str, str]], str], None],
) -> None:
    """Serve the sandbox over loopback HTTP until interrupted (Ctrl-C), with the load and
    faults given (`reconciler.sandbox.Faults`; one it refuses is a `UsageError`).
    `announce` gets the environment a client needs (the public sandbox credentials
    included) and a line saying which world is served."""
    check_loopback(host, force=allow_remote)
    try:
        chosen = Faults(
            latency_s=latency_ms / 1000.0,
            rate_limit_rps=rate_limit,
            rate_limit_burst=burst,
            p_429=fault_429,
            p_5xx=fault_5xx,
            p_drop=fault_drop,
            p_5xx_after_write=fault_5xx_after_write,
            p_drop_after_write=fault_drop_after_write,
            seed=fault_seed,
            op_rate_limits=op_rate_limits,
            retry_after=RetryAfter(retry_after),
            throttled_header=throttled_header,
            html_429=html_429,
        )
        Sandbox(World(), chosen)  # refuses an operation it does not know, naming those it does
    except ValueError as exc:
        raise UsageError(str(exc)) from exc

    def run_world(world: World, target: Path | None, origin: str) -> None:
        where = f"state file {target}" if target is not None else "memory (not saved)"
        serving = f"# serving the sandbox world {world.seed_name!r} from {origin}, in {where}"
        server = SandboxServer(
            world,
            faults=chosen,
            host=host,
            port=port,
            state_path=target,
            verbose=verbose,
            strict_media_types=strict_media_types,
        )
        endpoints = server.start()
        # The sandbox's credentials are public, fake values (README), so handing them out is
        # safe and makes the environment complete.
        public = [
            ("AMAZON_ADS_CLIENT_SECRET", SANDBOX_CLIENT_SECRET),
            ("AMAZON_ADS_REFRESH_TOKEN", SANDBOX_REFRESH_TOKEN),
            ("AMAZON_ADS_CLIENT_ID", SANDBOX_CLIENT_ID),  # last: readers may stop at it
        ]
        pairs = [(key, value) for key, _, value in map(_split, endpoints.env_lines())]
        try:
            announce([*pairs, *public], serving)
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()

    seeded_from = f"seed {seed}" if seed is not None else "the built-in demo seed"
    if state is None:
        run_world(_seeded(seed), None, seeded_from)
        return
    with lock_state(state, timeout_s=1.0) as target:
        existed = target.exists()
        world = World.load(target) if existed else _seeded(seed)
        world.save(target)
        origin = "the existing state file" if existed else f"{seeded_from} (new state file)"
        if existed and seed is not None:
            origin += f"; --seed {seed} is ignored while the file exists (`sandbox reset` it)"
        run_world(world, target, origin)
