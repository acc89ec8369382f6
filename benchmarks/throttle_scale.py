"""Throttling as Amazon does it: a full read under per-operation limits, with and
without `Retry-After`, whole-process against `reconciler sandbox serve`.

The world is benchmarks/read_scale.py's (1x: 200 manager accounts x 40 links, 100 AMC
accounts x 50 users + 10 invitations; 4x: four times the accounts). The sandbox adds 20 ms of
latency and limits the client as in the issue: 200 requests/s over all operations (one token
bucket per client id) and 120/s on the per-user role query (`QueryUserRoles`, its own bucket).
Two signalling modes:

- `retry-after`: 429 with `Retry-After` in integer seconds and the operation's JSON error;
- `no-retry-after`: 429 without `Retry-After`, with `amazon-advertising-api-throttled: true`
  and a gateway's HTML page as the body.

A "shared" scenario (one 200/s limit, no per-operation limit, `Retry-After`) is the
regression check: reads there must stay as they are (<= 1.10x the bound, minimum requests).

What is timed: `reconciler import --out DIR` as a whole process (interpreter start included),
which reads everything the credentials see (`read_all`). Requests and 429s are the sandbox's
own counts of API requests answered (the LWA token endpoint is not limited, not counted).

The bound (seconds) is what the limits allow at best, the tightest of the constraints:

    bound = max(minimum requests / client limit,
                max over limited operations of (that operation's minimum requests / its limit))

Goal: wall / bound <= 1.10, requests = minimum + 429 retries, 429s <= 5% of requests.

    .venv/bin/python benchmarks/throttle_scale.py [--scales 1,4] [--only SCENARIO ...]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Runnable as a script: the sibling benchmark modules and the repository root (tests.chaos
# holds the subprocess harness the benchmarks share with the chaos suite).
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import read_scale  # noqa: E402
import yaml  # noqa: E402
from common import REPO, RESULTS  # noqa: E402

from reconciler.api.operations import PAGE_INVITATIONS, PAGE_ROLES, PAGE_USERS  # noqa: E402
from tests.chaos import harness  # noqa: E402

CLIENT_RPS = 200.0
ROLES = "QueryUserRoles"
ROLES_RPS = 120.0
LATENCY_MS = 20.0
TIMEOUT_S = 1800.0  # one run; a 4x read is about three minutes
# `sandbox serve` parses the 4x seed (32,000 accounts of YAML) before it prints its URLs: on a
# busy 2-core machine that takes longer than the harness's default 30 s.
harness.SERVE_TIMEOUT_S = 180.0

SIGNALLING = {
    "retry-after": ("--retry-after", "seconds"),
    "no-retry-after": ("--retry-after", "none", "--throttled-header", "--html-429"),
}
# scenario -> (per-operation limits, signalling)
SCENARIOS: dict[str, tuple[dict[str, float], str]] = {
    "per-op, Retry-After": ({ROLES: ROLES_RPS}, "retry-after"),
    "per-op, no Retry-After": ({ROLES: ROLES_RPS}, "no-retry-after"),
    "shared, Retry-After": ({}, "retry-after"),
    "shared, no Retry-After": ({}, "no-retry-after"),
}


def minimum_by_operation(scale: int) -> dict[str, int]:
    """The fewest requests of each operation a full read of the world can make."""
    amcs = read_scale.AMC_ACCOUNTS * scale
    managers = read_scale.MANAGERS * scale  # nobody on them: one list of each
    minimum = {
        "getManagerAccountsForUser": 3,  # one per regional host
        "listProfiles": 3,  # one per regional host
        "AmcpLinkListAmcAccounts": math.ceil(amcs / read_scale.AMC_PAGE),
        "ListUserInvitations": amcs * math.ceil(read_scale.INVITATIONS / PAGE_INVITATIONS)
        + managers,
        "ListUsers": amcs * math.ceil(read_scale.USERS / PAGE_USERS) + managers,
        ROLES: amcs * read_scale.USERS * math.ceil(1 / PAGE_ROLES),
    }
    assert sum(minimum.values()) == read_scale.minimum_requests(scale)
    return minimum


def bound_s(minimum: dict[str, int], op_limits: dict[str, float]) -> float:
    """max(total / client limit, max over limited operations of minimum / limit)."""
    constraints = [sum(minimum.values()) / CLIENT_RPS]
    constraints += [minimum[op] / rps for op, rps in op_limits.items()]
    return max(constraints)


@dataclass(frozen=True, slots=True)
class Result:
    scenario: str
    scale: int
    wall_s: float
    bound_s: float
    requests: int
    minimum: int
    throttled: int
    cpu_s: float
    peak_kib: int = 0

    @property
    def ratio(self) -> float:
        return self.wall_s / self.bound_s

    @property
    def share_429(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0

    @property
    def other_retries(self) -> int:
        """Requests beyond the minimum that were not 429 retries (should be 0)."""
        return self.requests - self.throttled - self.minimum

    @property
    def ok(self) -> bool:
        return self.ratio <= 1.10 and self.other_retries == 0 and self.share_429 <= 0.05


def run(scenario: str, scale: int) -> Result:
    op_limits, signalling = SCENARIOS[scenario]
    minimum = minimum_by_operation(scale)
    flags = ["--latency-ms", str(LATENCY_MS), "--rate-limit", str(CLIENT_RPS)]
    for op, rps in op_limits.items():
        flags += ["--op-rate-limit", f"{op}={rps:g}"]
    flags += SIGNALLING[signalling]
    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp) / "seed.yaml"
        seed_file.write_text(yaml.safe_dump(read_scale.seed(scale)), encoding="utf-8")
        with harness.serve("--seed", str(seed_file), *flags) as served:
            done = harness.run(
                ["import", "--no-progress", "--out", str(Path(tmp) / "out")],
                env=served.env,
                timeout_s=TIMEOUT_S,
            )
            stats = served.stats()
    if done.returncode != 0:
        raise RuntimeError(done.describe())
    answered = {op: n for op, n in stats["requests"].items() if op != "lwa:token"}
    return Result(
        scenario,
        scale,
        done.wall_s,
        bound_s(minimum, op_limits),
        sum(answered.values()),
        sum(minimum.values()),
        int(stats["throttled"]),
        done.cpu_s,
        done.peak_kib,
    )


def table(results: list[Result]) -> str:
    header = (
        f"{'scenario':<24} {'x':>2} {'wall s':>7} {'bound s':>7} {'wall/bound':>10} "
        f"{'requests':>8} {'minimum':>8} {'req/min':>7} {'429s':>5} {'429 %':>6} "
        f"{'other':>5} {'goal':>4}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.scenario:<24} {r.scale:>2} {r.wall_s:>7.1f} {r.bound_s:>7.1f} "
            f"{r.ratio:>10.3f} {r.requests:>8} {r.minimum:>8} {r.requests / r.minimum:>7.3f} "
            f"{r.throttled:>5} {100 * r.share_429:>5.1f}% {r.other_retries:>5} "
            f"{'ok' if r.ok else 'MISS':>4}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,4", help="comma-separated sizes (default 1,4)")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    opts = parser.parse_args(argv)
    scales = [int(s) for s in opts.scales.split(",")]
    print(
        f"world: read_scale.py's, {read_scale.MANAGERS} manager accounts x {read_scale.LINKS} "
        f"links and {read_scale.AMC_ACCOUNTS} AMC accounts x {read_scale.USERS} users at 1x; "
        f"{LATENCY_MS:g} ms latency; client limit {CLIENT_RPS:g}/s; per-op: {ROLES} "
        f"{ROLES_RPS:g}/s"
    )
    print(
        "bound = max(minimum / client limit, max over limited operations of their minimum / "
        "their limit); other = requests - 429s - minimum"
    )
    results: list[Result] = []
    for scale in scales:
        for scenario in opts.only or list(SCENARIOS):
            print(f"... {scenario} x{scale}", file=sys.stderr, flush=True)
            results.append(run(scenario, scale))
            print(table(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"throttle-{time.strftime('%Y%m%d-%H%M%S')}.json"
    rows = [asdict(r) | {"ratio": r.ratio, "share_429": r.share_429} for r in results]
    data: dict[str, Any] = {
        "settings": {
            "client_rps": CLIENT_RPS,
            "op_limits": {ROLES: ROLES_RPS},
            "latency_ms": LATENCY_MS,
        },
        "rows": rows,
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"results: {path.relative_to(REPO)}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
