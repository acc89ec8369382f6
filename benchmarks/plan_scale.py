"""Benchmark: plan a large world with live state already read.

200 manager accounts x 40 linked accounts and 100 AMC accounts x 50 users, built with
`tests/factories.py`. Each manager account has 2 links to associate and 2 to disassociate;
each AMC account has 20 users pinned by userId, 30 matched by masked email, a pending
invitation, a role change, one to invite and one to revoke. Goal: `make_plan` under 1 s of
CPU (`time.process_time()`). A second run makes every AMC user ambiguous (all masked to
`u***@example.com`), the worst case for masked-email resolution.

    .venv/bin/python benchmarks/plan_scale.py [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.model import Desired, Live, Region, Role
from reconciler.plan import Policy
from reconciler.planning.planner import make_plan
from tests import factories as f

MANAGERS = 200
LINKS = 40
AMC_ACCOUNTS = 100
USERS = 50
REGIONS = (Region.NA, Region.EU, Region.FE)


def world(*, ambiguous: bool = False, scale: int = 1) -> tuple[Desired, Live]:
    """`scale` multiplies the manager and AMC account counts (4x)."""
    d_managers, l_managers = [], []
    for m in range(MANAGERS * scale):
        ids = [f"ENTITY{m:04d}L{i:03d}" for i in range(LINKS + 2)]
        d_managers.append(
            f.manager(
                f"Manager {m:04d}",
                *(f.link(x, REGIONS[i % 3], line=10 + i) for i, x in enumerate(ids[:LINKS])),
                id=f"amzn1.ads1.ma1.m{m:06d}",
                line=3,
            )
        )
        l_managers.append(
            f.live_manager(
                f"amzn1.ads1.ma1.m{m:06d}",
                f"Manager {m:04d}",
                *(f.live_link(x, REGIONS[i % 3]) for i, x in enumerate(ids[2:])),
            )
        )
    d_amcs, l_amcs = [], []
    for a in range(AMC_ACCOUNTS * scale):
        emails = [
            f"user{u:02d}.{a}@example.com" if ambiguous else f"{chr(97 + u % 26)}{u}@t{a}-{u}.com"
            for u in range(USERS + 1)
        ]
        role = [Role.ADMIN if u < 3 else Role.VIEWER for u in range(USERS + 1)]
        d_users = [
            f.user(e, role[u], user_id=f"amzn1.account.A{a}U{u}" if u < 20 else None, line=u + 5)
            for u, e in enumerate(emails[:USERS])
        ]
        l_users = [
            f.live_user(f"amzn1.account.A{a}U{u}", e, Role.VIEWER if u == 2 else role[u])
            for u, e in enumerate(emails)
            if u not in (10, USERS - 1)
        ]
        d_amcs.append(f.amc(f"ENTITY{a:04d}AMC", *d_users, line=2))
        l_amcs.append(
            f.live_amc(f"ENTITY{a:04d}AMC", l_users, [f.invitation(f"inv{a}", emails[USERS - 1])])
        )
    return f.desired(d_managers, d_amcs), f.live(l_managers, l_amcs)


def measure(desired: Desired, live: Live, repeat: int) -> tuple[float, str]:
    policy = Policy(now=f.NOW, max_removals=10**6, allow_unresolved=True)
    best = float("inf")
    outcome = ""
    for _ in range(repeat):
        start = time.process_time()
        plan = make_plan(desired, live, policy)
        outcome = f"{len(plan.actions)} actions, {len(plan.warnings)} warnings"
        if plan.refused:
            outcome += f", refused by {len(plan.refusals)} guard(s)"
        best = min(best, time.process_time() - start)
    return best, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for label, ambiguous in (("typical", False), ("all masked alike", True)):
        desired, live = world(ambiguous=ambiguous)
        cpu, outcome = measure(desired, live, args.repeat)
        verdict = "ok" if cpu < 1.0 else "OVER the 1 s goal"
        print(
            f"make_plan {label}: {MANAGERS} managers x {LINKS} links, {AMC_ACCOUNTS} AMC x "
            f"{USERS} users: {cpu:.3f} s CPU (best of {args.repeat}; goal < 1 s: {verdict}); "
            f"{outcome}"
        )


if __name__ == "__main__":
    main()
