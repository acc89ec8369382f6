"""How fast is a full live read of a large agency, against the rate limit?

Seeds a large world (200 manager accounts x 40 links over three regions; 100 AMC accounts x
50 users and 10 pending invitations each), serves it with `reconciler sandbox serve` on
loopback with 20 ms latency and 200 requests/second for the client across all hosts, and
times `read_all` twice: concurrently (the default client) and strictly one request at a time.

Goal: requests made equal the minimum (429 retries excepted) and wall time within
1.25x of the lower bound, minimum requests / rate limit.

A second row (`--people`) reads the people of other kinds of account the way `plan` does
(`read_live`): manager accounts, sponsored-ads and DSP accounts with users and invitations,
one `users/list` walk and one `userRoles/list` per user each.

    .venv/bin/python benchmarks/read_scale.py [--rate 200] [--latency-ms 20] [--no-sequential]
    .venv/bin/python benchmarks/read_scale.py --people [--rate 200] [--latency-ms 20]
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
from reconciler.live.read import read_all, read_live
from reconciler.model import Desired, DesiredAccount, ScopeKind

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
    """`GET /managerAccounts` and `GET /v2/profiles` on each of the three hosts, the AMC
    account pages, each AMC account's people, and each manager account's (nobody on it:
    one invitation list and one user list)."""
    per_amc = (
        math.ceil(INVITATIONS / PAGE_INVITATIONS)
        + math.ceil(USERS / PAGE_USERS)
        + USERS * math.ceil(1 / PAGE_ROLES)
    )
    amcs = AMC_ACCOUNTS * scale
    return 3 + 3 + math.ceil(amcs / AMC_PAGE) + amcs * per_amc + MANAGERS * scale * 2


# The people row: accounts of each other kind, each with users and pending invitations.
PEOPLE_ACCOUNTS = {ScopeKind.MANAGER: 20, ScopeKind.SPONSORED_ADS: 30, ScopeKind.DSP: 20}
PEOPLE_USERS, PEOPLE_INVITATIONS = 20, 3


def people_ids() -> list[tuple[ScopeKind, str]]:
    return [
        (kind, f"{'amzn1.ads1.ma1.' if kind is ScopeKind.MANAGER else ''}P{kind.value}{n:03d}")
        for kind, count in PEOPLE_ACCOUNTS.items()
        for n in range(count)
    ]


def people_seed() -> dict[str, Any]:
    """Manager, sponsored-ads and DSP accounts with people (custom sets and countries too)."""

    def people(kind: ScopeKind, n: int) -> dict[str, Any]:
        users: list[dict[str, Any]] = [{"email": f"owner@p{n}.example", "role": "ADMIN"}]
        for u in range(1, PEOPLE_USERS):
            user: dict[str, Any] = {"email": f"user{u}@p{n}.example", "role": "VIEWER"}
            if kind is ScopeKind.SPONSORED_ADS and u % 2:
                user = {**user, "role": None, "permissions": ["reports_view"]}
                user["countries"] = ["US", "CA"]
            users.append({k: v for k, v in user.items() if v is not None})
        invitations = [
            {"email": f"invitee{i}@p{n}.example", "role": "VIEWER", "age_days": 1}
            for i in range(PEOPLE_INVITATIONS)
        ]
        return {"users": users, "invitations": invitations}

    managers, ads = [], []
    for n, (kind, account_id) in enumerate(people_ids()):
        if kind is ScopeKind.MANAGER:
            managers.append({"id": account_id, "name": f"People {n}", **people(kind, n)})
        else:
            ads.append({"id": account_id, "type": kind.value, **people(kind, n)})
    return {"name": "read-people", "manager_accounts": managers, "ad_accounts": ads}


def people_minimum() -> int:
    per_account = (
        math.ceil(PEOPLE_INVITATIONS / PAGE_INVITATIONS)
        + math.ceil(PEOPLE_USERS / PAGE_USERS)
        + PEOPLE_USERS * math.ceil(1 / PAGE_ROLES)
    )
    return len(people_ids()) * per_account


def timed_people_read(config: ApiConfig, max_concurrency: int) -> dict[str, float]:
    desired = Desired(accounts=tuple(DesiredAccount(id=i, kind=k) for k, i in people_ids()))
    with AdsClient(config, max_concurrency=max_concurrency) as client:
        started = time.perf_counter()
        live = read_live(desired, client.reader())
        wall = time.perf_counter() - started
        stats = client.stats
    assert len(live.accounts) == len(people_ids()) and not live.incomplete, live.incomplete
    assert all(len(a.users) == PEOPLE_USERS for a in live.accounts)
    assert all(u.grant is not None for a in live.accounts for u in a.users)
    return {
        "requests": stats.requests,
        "throttled": stats.throttled,
        "wall": wall,
        "waited": stats.throttle_wait_s,
    }


def timed_read(config: ApiConfig, max_concurrency: int) -> dict[str, float]:
    with AdsClient(config, max_concurrency=max_concurrency) as client:
        started = time.perf_counter()
        live = read_all(client.reader())
        wall = time.perf_counter() - started
        stats = client.stats
    # The AMC accounts' people and the manager accounts' (the world has no profiles).
    assert len(live.accounts) == AMC_ACCOUNTS + MANAGERS and not live.incomplete, live.incomplete
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
    parser.add_argument("--people", action="store_true", help="the people row (see above)")
    args = parser.parse_args()
    if args.people:
        people_row(args)
        return
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


def people_row(args: argparse.Namespace) -> None:
    minimum = people_minimum()
    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp) / "seed.yaml"
        seed_file.write_text(yaml.safe_dump(people_seed()), encoding="utf-8")
        flags = ("--seed", str(seed_file), "--latency-ms", str(args.latency_ms),
                 "--rate-limit", str(args.rate))  # fmt: skip
        with harness.serve(*flags) as served:
            config = ApiConfig.from_env({**os.environ, **served.env})
            counts = ", ".join(f"{n} {k.value}" for k, n in PEOPLE_ACCOUNTS.items())
            print(f"world: accounts with people ({counts}) x {PEOPLE_USERS} users + "
                  f"{PEOPLE_INVITATIONS} invitations; {args.latency_ms:g} ms latency, "
                  f"{args.rate:g} rps")  # fmt: skip
            report(f"people, concurrent (max_concurrency={args.concurrency})",
                   timed_people_read(config, args.concurrency), minimum, args.rate)  # fmt: skip


if __name__ == "__main__":
    main()
