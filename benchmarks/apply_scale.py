"""How many write calls, and how long, to apply a large plan with every kind of action?

Seeds a world whose plan needs every action kind in bulk, serves it with `reconciler sandbox
serve` on loopback with 20 ms latency and 200 requests/second, plans (not timed), then times
`reconciler.apply.apply_plan` without and with its verifying re-read.

Reports write calls made vs the minimum number of batched write calls (per account, kind,
region, role and notify flag: ceil(items / API limit)), wall time, and the ratio to the
lower bound, minimum calls / rate limit.

    .venv/bin/python benchmarks/apply_scale.py [--rate 200] [--latency-ms 20] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from reconciler.actions import family
from reconciler.api import AdsClient, ApiConfig
from reconciler.apply import Status, apply_plan
from reconciler.live.read import read_live
from reconciler.model import (
    Desired,
    DesiredAccount,
    DesiredLink,
    DesiredManagerAccount,
    DesiredUser,
    ManagerAccountType,
    Region,
    Role,
)
from reconciler.plan import Plan, Policy
from reconciler.planning.planner import allowed_plan

# Runnable as a script: the repository root, for the subprocess harness the chaos suite uses.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.chaos import harness

MANAGERS, KEEP, ADD, DROP = 60, 10, 45, 5  # per manager: links kept, associated, disassociated
NEW_MANAGERS, NEW_LINKS = 5, 30  # created, with links associated in the same apply
AMC_ACCOUNTS = 30
USERS, DEMOTE, REVOKE = 40, 10, 20  # per AMC account: users, of which demoted / revoked
INVITE, REVOKE_INV, RESEND = 60, 5, 5  # new invitations; unlisted and expired pending ones
MARKETPLACES = {
    Region.NA: "ATVPDKIKX0DER",
    Region.EU: "A1F83G8C2ARO7P",
    Region.FE: "A1VC38T7YXB528",
}
REGIONS = tuple(Region)


def _account(m: str, n: int) -> tuple[str, Region]:
    return f"ENTITY{m}L{n:03d}", REGIONS[n % 3]


def world() -> tuple[dict[str, Any], Desired]:
    accounts: list[dict[str, Any]] = []
    seed_managers, want_managers = [], []

    def account(m: str, n: int) -> DesiredLink:
        account_id, region = _account(m, n)
        accounts.append({"id": account_id, "type": "SELLER", "marketplace": MARKETPLACES[region]})
        return DesiredLink(id=account_id, region=region)

    for m in range(MANAGERS):
        key = f"M{m:03d}"
        kept = [account(key, n) for n in range(KEEP)]
        added = [account(key, n) for n in range(KEEP, KEEP + ADD)]
        dropped = [account(key, n) for n in range(KEEP + ADD, KEEP + ADD + DROP)]
        manager_id = f"amzn1.ads1.ma1.apply{m:04d}"
        seed_managers.append(
            {"id": manager_id, "name": f"Apply {m}", "links": [x.id for x in kept + dropped]}
        )
        want_managers.append(
            DesiredManagerAccount(name=f"Apply {m}", id=manager_id, links=tuple(kept + added))
        )
    for m in range(NEW_MANAGERS):
        links = tuple(account(f"N{m:03d}", n) for n in range(NEW_LINKS))
        want_managers.append(
            DesiredManagerAccount(name=f"New {m}", type=ManagerAccountType.ADVERTISER, links=links)
        )
    seed_amc, want_amc = [], []
    for a in range(AMC_ACCOUNTS):
        domain = f"amc{a}.example.com"
        users = [
            {"email": f"u{u:03d}@{domain}", "user_id": f"amzn1.account.A{a}U{u}",
             "role": "admin" if u < DEMOTE + 2 else "viewer"}
            for u in range(USERS)
        ]  # fmt: skip
        invitations = [
            {"email": f"old{i}@{domain}", "role": "viewer", "age_days": 1}
            for i in range(REVOKE_INV)
        ] + [
            {"email": f"late{i}@{domain}", "role": "viewer", "age_days": 20} for i in range(RESEND)
        ]
        seed_amc.append(
            {"id": f"ENTITYAMC{a:04d}", "name": f"AMC {a}", "users": users,
             "invitations": invitations}
        )  # fmt: skip
        wanted = [
            DesiredUser(
                role=Role.VIEWER if 2 <= u < DEMOTE + 2 else Role(u_raw["role"]),
                user_id=str(u_raw["user_id"]),
            )
            for u, u_raw in enumerate(users[: USERS - REVOKE])
        ]
        wanted += [DesiredUser(role=Role.VIEWER, email=f"late{i}@{domain}") for i in range(RESEND)]
        wanted += [DesiredUser(role=Role.VIEWER, email=f"new{i}@{domain}") for i in range(INVITE)]
        want_amc.append(DesiredAccount(id=f"ENTITYAMC{a:04d}", users=tuple(wanted)))
    seed = {
        "name": "apply-scale",
        "accounts": accounts,
        "manager_accounts": [{**m, "type": "Agency"} for m in seed_managers],
        "amc_accounts": [{**x, "marketplace": "ATVPDKIKX0DER"} for x in seed_amc],
    }
    return seed, Desired(manager_accounts=tuple(want_managers), accounts=tuple(want_amc))


def minimum_calls(plan: Plan) -> int:
    """One call per (account, kind, region, role, notify) group and the API's item limit
    for the kind (its family's `limit`)."""
    groups: Counter[tuple[Any, ...]] = Counter()
    for a in plan.actions:
        groups[(a.kind, a.scope, a.region, a.role, a.notify)] += 1
    return sum(math.ceil(n / family(key[0]).limit(key[0])) for key, n in groups.items())


def run(config: ApiConfig, want: Desired, concurrency: int, *, verify: bool) -> dict[str, float]:
    with AdsClient(config, max_concurrency=concurrency) as client:
        live = read_live(want, client.reader())
        policy = Policy(
            now=time.time(), max_removals=100_000, max_removal_fraction=1.0, allow_fewer_admins=True
        )
        plan = allowed_plan(want, live, policy)  # a refused plan is never applied
        time.sleep(1.5)  # let the server's token bucket refill after the read
        before = client.stats
        started = time.perf_counter()
        report = apply_plan(plan, client, verify=verify)
        wall = time.perf_counter() - started
        after = client.stats
    statuses = Counter(r.status for r in report.results)
    assert statuses[Status.FAILED] == 0 and statuses[Status.SKIPPED] == 0, report.failed[:3]
    if verify:
        assert report.converged, (report.remaining[:3], report.problems[:3])
    return {
        "actions": len(plan.actions),
        "calls": report.write_calls,
        "minimum": minimum_calls(plan),
        "requests": after.requests - before.requests,
        "throttled": after.throttled - before.throttled,
        "wall": wall,
    }


def show(label: str, f: dict[str, float], rate: float, burst: int | None) -> None:
    bound = f["minimum"] / rate
    print(f"{label}:")
    print(f"  actions            {f['actions']:.0f}")
    print(f"  write calls        {f['calls']:.0f} (minimum batched calls {f['minimum']:.0f})")
    print(f"  requests (all)     {f['requests']:.0f}, of which 429s {f['throttled']:.0f}")
    print(f"  wall time          {f['wall']:.2f} s")
    print(f"  lower bound        {bound:.2f} s (minimum calls / {rate:g} rps)")
    print(f"  ratio              {f['wall'] / bound:.2f}")
    print(f"  (server burst: {burst or f'{rate:g} tokens (default)'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    # The server's token bucket holds `rate` tokens by default: the first second's worth of
    # calls is free, which the lower bound ignores. --burst 1 makes the limit strict.
    parser.add_argument("--burst", type=int, default=None)
    args = parser.parse_args()
    seed, want = world()
    with tempfile.TemporaryDirectory() as tmp:
        for verify in (False, True):
            seed_file = Path(tmp) / "seed.yaml"
            seed_file.write_text(yaml.safe_dump(seed), encoding="utf-8")
            flags = ["--seed", str(seed_file), "--latency-ms", str(args.latency_ms),
                     "--rate-limit", str(args.rate)]  # fmt: skip
            if args.burst is not None:
                flags += ["--burst", str(args.burst)]
            with harness.serve(*flags) as served:
                config = ApiConfig.from_env({**os.environ, **served.env})
                figures = run(config, want, args.concurrency, verify=verify)
                label = "apply + verifying re-read and re-plan" if verify else "apply (writes only)"
                show(f"{label}, max_concurrency={args.concurrency}", figures, args.rate, args.burst)


if __name__ == "__main__":
    main()
