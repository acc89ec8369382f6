"""Run every benchmark at two sizes and print one table.

    .venv/bin/python benchmarks/run_all.py [--scales 1,4] [--only NAME ...] [--rate 200]
                                           [--latency-ms 20]

Benchmarks (each at the issue's size, 1x, and 4x):
- `load+validate`: `reconciler validate DIR` on benchmarks/load_validate.py's manifests
  (500 manager accounts x 40 links, 500 AMC accounts x 100 users at 1x).
- `read (full)`: `read_all` in a worker process against `reconciler sandbox serve` seeded with
  benchmarks/read_scale.py's world (200 x 40 links, 100 AMC x 50 users + 10 invitations).
- `make_plan (CPU)`: the pure planner on benchmarks/plan_scale.py's world, in a worker.
- `plan (CLI)` and `apply (CLI)`: `reconciler plan --out` / `reconciler apply --auto-approve`
  as whole processes against `sandbox serve` seeded with tests/chaos/world.py's world at the
  read benchmark's size, whose plan holds every kind of action (about 1,900 actions at 1x).
- `plan --changed-since`: `reconciler plan --changed-since REF --out` on that world for a
  change inviting one person to one AMC account, its requests as a share of the full plan's
  of the same manifests (goal: at most 2%).
- `adopt (CLI)`: `reconciler adopt` on that world (every account drifted), then a plan to
  count what is left.
- `read throttled (CLI)`: benchmarks/throttle_scale.py's per-operation scenario (Amazon's
  limits, `Retry-After`); its other scenarios run with that script.

The served sandbox adds `--latency-ms` to every response and admits `--rate` requests per
second per client (token bucket, 429 + Retry-After beyond). Lower bounds: minimum read
requests / rate for reads and plan; for apply (2 x minimum reads + minimum batched write
calls) / rate, since it reads to plan and re-reads to verify (the write-only bound the issue
names is in the note).
Peak memory is the measured process's own high-water mark (VmHWM), not the server's.
Results are printed and written to benchmarks/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Runnable as a script from anywhere: the sibling benchmark modules and the repository root
# (for tests.chaos, which holds the subprocess harness shared with the chaos suite).
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import apply_scale  # noqa: E402
import load_validate  # noqa: E402
import plan_scale  # noqa: E402
import read_scale  # noqa: E402
import throttle_scale  # noqa: E402
import yaml  # noqa: E402
from common import REPO, Row, growth, save, table  # noqa: E402

from tests.chaos import harness  # noqa: E402
from tests.chaos.world import WorldSpec, write  # noqa: E402

KIB = 1024.0
# The plan/apply world: read_scale's sizes, with changes in every manager and AMC account.
CHANGE_WORLD = WorldSpec(
    managers=200,
    links=40,
    new_links=2,
    new_managers=5,
    amc_accounts=100,
    users=50,
    invitations=10,
    new_invitations=2,
    name="bench",
)
GUARDS_OFF = ("--max-removals", "1000000", "--max-removal-fraction", "1")


def _mib(kib: int) -> float:
    return kib / KIB


def _requests(stats: dict[str, Any]) -> int:
    """API requests the sandbox answered (the LWA token endpoint is not rate limited)."""
    return sum(n for op, n in stats["requests"].items() if op != "lwa:token")


# ---- load+validate --------------------------------------------------------------------------
def bench_load(scale: int, opts: argparse.Namespace) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        size = load_validate.generate(Path(tmp), scale)
        done = harness.run(["validate", tmp])
    if done.returncode != 0:
        raise RuntimeError(done.describe())
    m, a = load_validate.MANAGERS * scale, load_validate.AMC_ACCOUNTS * scale
    return Row(
        "load+validate",
        scale,
        f"{m} managers x {load_validate.LINKS} links, {a} AMC x {load_validate.USERS} users, "
        f"{size / 1e6:.1f} MB",
        done.wall_s,
        peak_mib=_mib(done.peak_kib),
        how="CLI",
        note="whole process incl. interpreter start",
    )


# ---- full read ------------------------------------------------------------------------------
def worker_read() -> None:
    from reconciler.live.read import read_all
    from reconciler.live.session import open_client

    with open_client(sandbox=False, sandbox_state=None, env=os.environ, debug=False) as client:
        started = time.perf_counter()
        live = read_all(client.reader())
        wall = time.perf_counter() - started
        stats = client.stats
    result = {
        "wall": wall,
        "requests": stats.requests,
        "throttled": stats.throttled,
        "amc_accounts": len(live.accounts),
        "incomplete": len(live.incomplete),
    }
    print(json.dumps(result))


def bench_read(scale: int, opts: argparse.Namespace) -> Row:
    minimum = read_scale.minimum_requests(scale)
    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp) / "seed.yaml"
        seed_file.write_text(yaml.safe_dump(read_scale.seed(scale)), encoding="utf-8")
        with harness.serve(*_load_flags(opts, seed_file)) as served:
            done = harness.run_command(
                [sys.executable, __file__, "--worker", "read"], env=served.env, label=["read"]
            )
            answered = _requests(served.stats())
    if done.returncode != 0:
        raise RuntimeError(done.describe())
    result = json.loads(done.stdout)
    if result["incomplete"]:
        raise RuntimeError(f"the read was incomplete: {result}")
    return Row(
        "read (full)",
        scale,
        f"{read_scale.MANAGERS * scale} managers x {read_scale.LINKS} links, "
        f"{result['amc_accounts']} AMC x {read_scale.USERS} users + {read_scale.INVITATIONS} inv.",
        result["wall"],
        requests=answered,
        min_requests=minimum,
        bound_s=minimum / opts.rate,
        peak_mib=_mib(done.peak_kib),
        how="worker",
        note=f"{result['throttled']} x 429; wall = read_all only; worker CPU {done.cpu_s:.1f} s",
    )


def _load_flags(opts: argparse.Namespace, seed_file: Path) -> list[str]:
    return [
        "--seed",
        str(seed_file),
        "--latency-ms",
        str(opts.latency_ms),
        "--rate-limit",
        str(opts.rate),
    ]


# ---- make_plan ------------------------------------------------------------------------------
def worker_make_plan(scale: int) -> None:
    desired, live = plan_scale.world(scale=scale)
    cpu, outcome = plan_scale.measure(desired, live, repeat=3)
    print(json.dumps({"cpu": cpu, "outcome": outcome}))


def bench_make_plan(scale: int, opts: argparse.Namespace) -> Row:
    done = harness.run_command(
        [sys.executable, __file__, "--worker", "make-plan", "--scales", str(scale)],
        label=["make-plan"],
    )
    if done.returncode != 0:
        raise RuntimeError(done.describe())
    result = json.loads(done.stdout)
    return Row(
        "make_plan (CPU)",
        scale,
        f"{plan_scale.MANAGERS * scale} managers x {plan_scale.LINKS} links, "
        f"{plan_scale.AMC_ACCOUNTS * scale} AMC x {plan_scale.USERS} users",
        result["cpu"],
        peak_mib=_mib(done.peak_kib),
        how="worker",
        note=f"CPU s, best of 3; {result['outcome']}; peak incl. building the world",
    )


# ---- plan and apply, whole process ----------------------------------------------------------
def _has_command(name: str) -> bool:
    return harness.run([name, "--help"], timeout_s=60).returncode == 0


def _change_world_size(spec: WorldSpec) -> str:
    return (
        f"{spec.managers} managers x {spec.links} links (+{spec.new_managers} new), "
        f"{spec.amc_accounts} AMC x {spec.users} users + {spec.invitations} inv."
    )


def bench_plan(scale: int, opts: argparse.Namespace) -> Row:
    """`reconciler plan --out` (whole process): reads the managed scopes, plans, renders."""
    spec = CHANGE_WORLD.scaled(scale)
    with tempfile.TemporaryDirectory() as tmp:
        seed_file, manifests = write(Path(tmp), spec)
        with harness.serve(*_load_flags(opts, seed_file)) as served:
            out = Path(tmp) / "plan.json"
            done = harness.run(
                ["plan", "--no-progress", "--out", str(out), *GUARDS_OFF, str(manifests)],
                env=served.env,
                timeout_s=1800,
            )
            stats = served.stats()
        if done.returncode != 0:
            raise RuntimeError(done.describe())
        actions = len(json.loads(out.read_text(encoding="utf-8"))["actions"])
    reads = spec.minimum_reads()
    return Row(
        "plan (CLI)",
        scale,
        _change_world_size(spec),
        done.wall_s,
        requests=_requests(stats),
        min_requests=reads,
        bound_s=reads / opts.rate,
        peak_mib=_mib(done.peak_kib),
        how="CLI",
        note=f"{actions} actions; {stats['throttled']} x 429; CPU {done.cpu_s:.1f} s",
    )


def _git(folder: Path, *args: str) -> None:
    import subprocess

    config = ("-c", "user.name=b", "-c", "user.email=b@example.com", "-c", "commit.gpgsign=false")
    subprocess.run(["git", *config, *args], cwd=folder, check=True, capture_output=True)


def _one_account_change(manifests: Path) -> str:
    """Invite one person to one AMC account (the middle one) in the manifests; its id."""
    path = manifests / "amc" / "amc.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    account = doc["amcAccounts"][len(doc["amcAccounts"]) // 2]
    account["users"].append({"email": "one.change@example.com", "role": "viewer"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=200), encoding="utf-8")
    return str(account["id"])


def bench_changed_since(scale: int, opts: argparse.Namespace) -> Row:
    """`reconciler plan --changed-since REF --out` (whole process) for a pull request that
    invites one person to one AMC account of the plan world, next to the full plan of the
    same manifests: requests as a share of the full plan's (goal: at most 2%). The lower
    bound is that one account's read: the AMC account list, its invitations and users, and
    one role query per user."""
    spec = CHANGE_WORLD.scaled(scale)
    with tempfile.TemporaryDirectory() as tmp:
        seed_file, manifests = write(Path(tmp), spec)
        _git(Path(tmp), "init", "--quiet", "-b", "main")
        _git(Path(tmp), "add", "manifests")
        _git(Path(tmp), "commit", "--quiet", "-m", "base")
        changed = _one_account_change(manifests)
        _git(Path(tmp), "commit", "--quiet", "-am", "one account")
        with harness.serve(*_load_flags(opts, seed_file)) as served:
            runs: dict[str, tuple[harness.Finished, int, int]] = {}
            for label, extra in (("full", ()), ("since", ("--changed-since", "HEAD~1"))):
                out = Path(tmp) / f"{label}.json"
                before = _requests(served.stats())
                done = harness.run(
                    ["plan", "--no-progress", "--out", str(out), *extra, *GUARDS_OFF,
                     str(manifests)],
                    env=served.env,
                    timeout_s=1800,
                )  # fmt: skip
                if done.returncode != 0:
                    raise RuntimeError(done.describe())
                actions = len(json.loads(out.read_text(encoding="utf-8"))["actions"])
                runs[label] = (done, _requests(served.stats()) - before, actions)
                time.sleep(1.5)  # let the server's token bucket refill
    (done, requests, actions), (full, full_requests, _) = runs["since"], runs["full"]
    reads = 1 + -(-spec.invitations // 50) + -(-spec.users // 100) + spec.users
    share = requests / full_requests
    return Row(
        "plan --changed-since",
        scale,
        f"1 of {spec.amc_accounts} AMC accounts changed ({changed}); " + _change_world_size(spec),
        done.wall_s,
        requests=requests,
        min_requests=reads,
        bound_s=reads / opts.rate,
        peak_mib=_mib(done.peak_kib),
        how="CLI",
        note=(
            f"{100 * share:.2f}% of the full plan's {full_requests} requests "
            f"({full.wall_s:.1f} s; goal <= 2%: {'ok' if share <= 0.02 else 'OVER'}); "
            f"{actions} actions; CPU {done.cpu_s:.1f} s"
        ),
    )


def bench_apply(scale: int, opts: argparse.Namespace) -> Row:
    """`reconciler apply --auto-approve` (whole process): read, plan, write, re-read to verify.
    The minimum: two reads of the managed scopes (plan, verification) plus the fewest batched
    write calls for the plan (apply_scale.minimum_calls: per account, kind, region, role and
    notify flag, ceil(items / API limit))."""
    from reconciler.planfile.codec import decode as plan_from_json

    spec = CHANGE_WORLD.scaled(scale)
    with tempfile.TemporaryDirectory() as tmp:
        seed_file, manifests = write(Path(tmp), spec)
        with harness.serve(*_load_flags(opts, seed_file)) as served:
            out = Path(tmp) / "plan.json"  # not timed: only to count the minimum write calls
            planned = harness.run(
                ["plan", "--no-progress", "--out", str(out), *GUARDS_OFF, str(manifests)],
                env=served.env,
                timeout_s=1800,
            )
            if planned.returncode != 0:
                raise RuntimeError(planned.describe())
            time.sleep(1.5)  # let the server's token bucket refill
            before = served.stats()
            done = harness.run(
                ["apply", "--auto-approve", "--no-progress", *GUARDS_OFF, str(manifests)],
                env=served.env,
                timeout_s=1800,
            )
            after = served.stats()
        if done.returncode != 0:
            raise RuntimeError(done.describe())
        plan = plan_from_json(json.loads(out.read_text(encoding="utf-8")), source=str(out))
    writes = apply_scale.minimum_calls(plan)
    reads = 2 * spec.minimum_reads()
    requests = _requests(after) - _requests(before)
    return Row(
        "apply (CLI)",
        scale,
        _change_world_size(spec),
        done.wall_s,
        requests=requests,
        min_requests=reads + writes,
        bound_s=(reads + writes) / opts.rate,
        peak_mib=_mib(done.peak_kib),
        how="CLI",
        note=(
            f"{len(plan.actions)} actions; {after['writes'] - before['writes']} write calls "
            f"(minimum {writes}, write-only bound {writes / opts.rate:.2f} s); "
            f"{after['throttled'] - before['throttled']} x 429; CPU {done.cpu_s:.1f} s"
        ),
    )


def bench_adopt(scale: int, opts: argparse.Namespace) -> Row:
    """`reconciler adopt` (whole process) on the plan world, where every manager and AMC
    account has drifted: it reads the managed scopes, plans, edits the manifests and checks
    them by loading and planning the edited copies against the same read. The lower bound is
    the read's, as for plan; the note says what is left to plan afterwards (the manager
    accounts the manifests create, which adopt does not remove) and how many lines changed."""
    spec = CHANGE_WORLD.scaled(scale)
    with tempfile.TemporaryDirectory() as tmp:
        seed_file, manifests = write(Path(tmp), spec)
        before = {p: p.read_text(encoding="utf-8") for p in sorted(manifests.rglob("*.yaml"))}
        with harness.serve(*_load_flags(opts, seed_file)) as served:
            done = harness.run(
                ["adopt", "--no-progress", str(manifests)], env=served.env, timeout_s=1800
            )
            stats = served.stats()
            if done.returncode != 2:
                raise RuntimeError(done.describe())
            time.sleep(1.5)  # let the server's token bucket refill
            out = Path(tmp) / "after.json"
            after = harness.run(
                ["plan", "--no-progress", "--out", str(out), *GUARDS_OFF, str(manifests)],
                env=served.env,
                timeout_s=1800,
            )
        if after.returncode != 0:
            raise RuntimeError(after.describe())
        left = json.loads(out.read_text(encoding="utf-8"))["actions"]
        changed = 0
        for path, text in before.items():
            new = path.read_text(encoding="utf-8").splitlines()
            old = text.splitlines()
            changed += sum(1 for line in difflib.ndiff(old, new) if line[:2] in ("- ", "+ "))
    reads = spec.minimum_reads()
    kinds = sorted({a["kind"] for a in left})
    return Row(
        "adopt (CLI)",
        scale,
        _change_world_size(spec),
        done.wall_s,
        requests=_requests(stats),
        min_requests=reads,
        bound_s=reads / opts.rate,
        peak_mib=_mib(done.peak_kib),
        how="CLI",
        note=(
            f"{changed} lines changed; plan after: {len(left)} actions ({', '.join(kinds)}); "
            f"{stats['throttled']} x 429; CPU {done.cpu_s:.1f} s"
        ),
    )


def bench_throttle(scale: int, opts: argparse.Namespace) -> Row:
    """benchmarks/throttle_scale.py's per-operation scenario with `Retry-After`:
    `reconciler import` as a whole process under Amazon's limits (200/s per client, 120/s on
    the role query), 20 ms latency. The bound is what those limits allow at best; its other
    scenarios run with `benchmarks/throttle_scale.py`. (`--rate`/`--latency-ms` do not apply:
    the scenario sets its own.)"""
    result = throttle_scale.run("per-op, Retry-After", scale)
    return Row(
        "read throttled (CLI)",
        scale,
        f"read_scale's world x{scale}, per-operation limits, Retry-After",
        result.wall_s,
        requests=result.requests,
        min_requests=result.minimum,
        bound_s=result.bound_s,
        peak_mib=_mib(result.peak_kib),
        how="CLI",
        note=(
            f"{result.throttled} x 429 ({100 * result.share_429:.1f}%); "
            f"{result.other_retries} other retries; CPU {result.cpu_s:.1f} s"
        ),
    )


BENCHMARKS: dict[str, tuple[Callable[[int, argparse.Namespace], Row], str | None]] = {
    "load": (bench_load, None),
    "read": (bench_read, None),
    "make-plan": (bench_make_plan, None),
    "plan": (bench_plan, "plan"),
    "changed-since": (bench_changed_since, "plan"),
    "apply": (bench_apply, "apply"),
    "adopt": (bench_adopt, "adopt"),
    "throttle": (bench_throttle, "import"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,4", help="comma-separated sizes (default 1,4)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS))
    parser.add_argument("--rate", type=float, default=200.0, help="sandbox rate limit, rps")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--worker", choices=("read", "make-plan"), help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    scales = [int(s) for s in opts.scales.split(",")]
    if opts.worker == "read":
        worker_read()
        return 0
    if opts.worker == "make-plan":
        worker_make_plan(scales[0])
        return 0
    rows: list[Row] = []
    skipped: list[str] = []
    for name in opts.only or list(BENCHMARKS):
        bench, command = BENCHMARKS[name]
        if command is not None and not _has_command(command):
            skipped.append(f"{name}: `reconciler {command}` does not exist yet")
            continue
        for scale in scales:
            print(f"... {name} x{scale}", file=sys.stderr, flush=True)
            rows.append(bench(scale, opts))
    print(table(rows))
    print()
    for line in growth(rows):
        print(line)
    for line in skipped:
        print(f"skipped {line}")
    settings = {"rate_rps": opts.rate, "latency_ms": opts.latency_ms, "cpus": os.cpu_count()}
    path = save(rows, {**settings, "skipped": skipped})
    print(f"results: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
