"""Run the product the way CI does: `reconciler sandbox serve` and the CLI as subprocesses.

Shared by the chaos suite, the security test and `benchmarks/run_all.py`. Everything binds to
127.0.0.1 only; the served sandbox's URLs are parsed from what `sandbox serve` prints.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.sandbox import SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN

REPO = Path(__file__).resolve().parents[2]
SERVE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Served:
    """A running `reconciler sandbox serve`: its process, the AMAZON_ADS_* environment that
    points a client at it, and the NA base URL (the /_sandbox/ control routes answer there)."""

    process: subprocess.Popen[str]
    env: Mapping[str, str]

    @property
    def na_url(self) -> str:
        return self.env["AMAZON_ADS_API_URL_NA"]

    def state(self) -> dict[str, Any]:
        """The world's full snapshot (GET /_sandbox/state)."""
        data: dict[str, Any] = httpx.get(f"{self.na_url}/_sandbox/state", timeout=30).json()
        return data

    def stats(self) -> dict[str, Any]:
        """Requests by operationId, faults by kind, writes applied (GET /_sandbox/stats)."""
        data: dict[str, Any] = httpx.get(f"{self.na_url}/_sandbox/stats", timeout=30).json()
        return data

    def control(self, op: str, **args: Any) -> Any:
        response = httpx.post(f"{self.na_url}/_sandbox/{op}", json=args, timeout=30)
        response.raise_for_status()
        return response.json().get("result")


@contextmanager
def serve(
    *args: str,
    client_secret: str = SANDBOX_CLIENT_SECRET,
    refresh_token: str = SANDBOX_REFRESH_TOKEN,
    client_id: str | None = None,
) -> Iterator[Served]:
    """`reconciler sandbox serve ARGS...` on ephemeral loopback ports, stopped on exit.

    The yielded env holds the credentials a client needs (the public sandbox ones unless a
    seed added a client and the caller names it)."""
    command = [sys.executable, "-m", "reconciler", "sandbox", "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env=_base_env(),
    )
    try:
        env = {"AMAZON_ADS_CLIENT_SECRET": client_secret, "AMAZON_ADS_REFRESH_TOKEN": refresh_token}
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        assert process.stdout is not None
        while "AMAZON_ADS_CLIENT_ID" not in env:
            line = process.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("`reconciler sandbox serve` exited before printing its URLs")
            key, _, value = line.strip().removeprefix("export ").partition("=")
            # The credentials given by the caller win over the public ones serve prints.
            if key.startswith("AMAZON_ADS_") and key not in env:
                env[key] = shlex.split(value)[0] if value else ""
        if client_id is not None:
            env["AMAZON_ADS_CLIENT_ID"] = client_id
        yield Served(process, env)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _base_env() -> dict[str, str]:
    """The parent's environment without any AMAZON_ADS_* or sandbox variable, so a developer's
    real credentials can never reach a test run."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AMAZON_ADS_") and k != "RECONCILER_SANDBOX_STATE"
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True, slots=True)
class Finished:
    """One finished CLI run: exit code, output, wall time and the peak resident set size."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_kib: int
    cpu_s: float = 0.0  # user + system CPU of the process itself

    def describe(self) -> str:
        return (
            f"reconciler {' '.join(self.args)} exited {self.returncode}\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


def start(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[str]:
    """Start `python -m reconciler ARGS` with ENV added to a clean environment."""
    return subprocess.Popen(
        cli_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd or REPO,
        env={**_base_env(), **(env or {})},
    )


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 600.0,
    stdin: str | None = None,
) -> Finished:
    """Run `python -m reconciler ARGS` to completion (see `run_command`)."""
    return run_command(
        cli_command(*args), env=env, cwd=cwd, timeout_s=timeout_s, stdin=stdin, label=args
    )


def run_command(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 600.0,
    stdin: str | None = None,
    label: Sequence[str] | None = None,
) -> Finished:
    """Run COMMAND to completion; measure wall time and peak memory.

    Output goes through temporary files, not pipes, so that the child is reaped here by
    `os.wait4` while its memory is watched (see `_wait`)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
            cwd=cwd or REPO,
            env={**_base_env(), **(env or {})},
        )
        if stdin is not None:
            assert process.stdin is not None
            process.stdin.write(stdin)
            process.stdin.close()
        status, peak_kib, cpu_s = _wait(process, timeout_s)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Finished(
            tuple(label if label is not None else command),
            status,
            out.read(),
            err.read(),
            wall,
            peak_kib,
            cpu_s,
        )


def _wait(process: subprocess.Popen[str], timeout_s: float) -> tuple[int, int, float]:
    """Reap the process; return its exit code, peak resident set size in KiB and CPU seconds.

    The peak is the largest `VmHWM` read from /proc while it runs (every 10 ms), not
    `ru_maxrss`: Linux carries the parent's high-water mark over fork and exec into the
    child's `ru_maxrss`, so a child of a large parent would report the parent's size."""
    deadline = time.monotonic() + timeout_s
    status_file = Path(f"/proc/{process.pid}/status")
    peak = 0
    while True:
        try:
            for line in status_file.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            pass  # not on Linux, or the process is a zombie already
        pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            code = os.waitstatus_to_exitcode(status)
            process.returncode = code  # reaped here: tell Popen so it does not wait again
            cpu = float(rusage.ru_utime + rusage.ru_stime)
            return code, peak or int(rusage.ru_maxrss), cpu
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"{process.args!r} ran longer than {timeout_s} s")
        time.sleep(0.01)


def cli_env(served: Served, **extra: str) -> dict[str, str]:
    return {**served.env, **extra}


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
