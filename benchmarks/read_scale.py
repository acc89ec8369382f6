"""How fast is a full live read of a large agency, against the rate limit?

Seeds a large world (200 manager accounts x 40 links over three regions; 100 AMC accounts x
50 users and 10 pending invitations each), serves it with `reconciler sandbox serve` on
loopback with 20 ms latency and 200 requests/second for the client across all hosts, and
times `read_all` twice: concurrently (the default client) and strictly one request at a time.

Goal: requests made equal the minimum (429 retries excepted) and wall time within
1.25x of the lower bound, minimum requests / rate limit.

    .venv/bin/python benchmarks/read_scale.py [--rate 200] [--latency-ms 20] [--no-sequential]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from reconciler.api import AdsClient, ApiConfig
from reconciler.api.operations import PAGE_INVITATIONS, PAGE_ROLES, PAGE_USERS
from reconciler.live.read import read_all

# Runnable as a script: the repository root, for the subprocess harness the chaos suite uses.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.chaos import harness

MANAGERS, LINKS = 200, 40
AMC_ACCOUNTS, USERS, INVITATIONS = 100, 50, 10
AMC_PAGE = 100  # GET /amc/accounts returns at most 100 per page (reference §3.1)
MARKETPLACES = ("ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1VC38T7YXB528")  # US, UK, JP


def seed(scale: int = 1) -> dict[str, Any]:
    """The world; `scale` multiplies the manager and AMC account counts (4x)."""
    accounts, managers = [], []
    for m in range(MANAGERS * scale):
        links = []
        for n in range(LINKS):
            account_id = f"ENTITYM{m:03d}L{n:02d}"
            accounts.append(
                {
                    "id": account_id,
                    "type": "SELLER",
                    "marketplace": MARKETPLACES[n % 3],
                    "profile_id": str(10**15 + m * 100 + n),
                }
            )
            links.append(account_id)
        managers.append(
            {"id": f"amzn1.ads1.ma1.bench{m:04d}", "name": f"Bench {m}", "links": links}
        )
    amc = [
        {
            "id": f"ENTITYAMC{a:04d}",
            "name": f"AMC {a}",
            "users": [
                {"email": f"user{u}@amc{a}.example.com", "role": "ADMIN" if u == 0 else "VIEWER"}
                for u in range(USERS)
            ],
            "invitations": [
                {"email": f"invitee{i}@amc{a}.example.com", "role": "viewer", "age_days": 1}
                for i in range(INVITATIONS)
            ],
        }
        for a in range(AMC_ACCOUNTS * scale)
    ]
    return {
        "name": "read-scale",
        "accounts": accounts,
        "manager_accounts": managers,
        "amc_accounts": amc,
    }


def minimum_requests(scale: int = 1) -> int:
    per_amc = (
        math.ceil(INVITATIONS / PAGE_INVITATIONS)
        + math.ceil(USERS / PAGE_USERS)
        + USERS * math.ceil(1 / PAGE_ROLES)
    )
    amcs = AMC_ACCOUNTS * scale
    return 3 + math.ceil(amcs / AMC_PAGE) + amcs * per_amc


def timed_read(config: ApiConfig, max_concurrency: int) -> dict[str, float]:
    with AdsClient(config, max_concurrency=max_concurrency) as client:
        started = time.perf_counter()
        live = read_all(client.reader())
        wall = time.perf_counter() - started
        stats = client.stats
    assert len(live.amc_accounts) == AMC_ACCOUNTS and not live.incomplete, live.incomplete
    return {
        "requests": stats.requests,
        "throttled": stats.throttled,
        "wall": wall,
        "waited": stats.throttle_wait_s,
    }


def report(label: str, figures: dict[str, float], minimum: int, rate: float) -> None:
    bound = minimum / rate
    print(f"{label}:")
    extra = figures["requests"] - figures["throttled"] - minimum
    print(f"  requests made      {figures['requests']:.0f} (minimum {minimum}; {extra:+.0f} beyond")
    print("                     the minimum once 429 retries are excepted)")
    print(f"  429s received      {figures['throttled']:.0f}")
    print(f"  wall time          {figures['wall']:.2f} s")
    print(f"  lower bound        {bound:.2f} s (minimum requests / {rate:g} rps)")
    print(f"  ratio              {figures['wall'] / bound:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    # 16, as `reconciler.live.session.open_client` uses: at 8, this 2-core loopback setup is bound
    # by latency x concurrency (about 120 rps), not by the rate limit.
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-sequential", action="store_true")
    args = parser.parse_args()
    minimum = minimum_requests()
    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp) / "seed.yaml"
        seed_file.write_text(yaml.safe_dump(seed()), encoding="utf-8")
        flags = ("--seed", str(seed_file), "--latency-ms", str(args.latency_ms),
                 "--rate-limit", str(args.rate))  # fmt: skip
        with harness.serve(*flags) as served:
            config = ApiConfig.from_env({**os.environ, **served.env})
            print(f"world: {MANAGERS} manager accounts x {LINKS} links, {AMC_ACCOUNTS} AMC "
                  f"accounts x {USERS} users + {INVITATIONS} invitations; "
                  f"{args.latency_ms:g} ms latency, {args.rate:g} rps")  # fmt: skip
            report(f"concurrent (max_concurrency={args.concurrency})",
                   timed_read(config, args.concurrency), minimum, args.rate)  # fmt: skip
            time.sleep(1.5)  # let the server's token bucket refill between runs
            if not args.no_sequential:
                report("sequential (one request at a time)", timed_read(config, 1), minimum,
                       args.rate)  # fmt: skip


if __name__ == "__main__":
    main()
