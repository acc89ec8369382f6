"""A generated world that needs every kind of action, and a checker that compares the
sandbox's state with the manifests.

`build(spec)` returns a sandbox seed and manifest files such that the plan holds, per
`WorldSpec` unit: manager accounts to create (with links), links to associate and to
disassociate, invitations to send, to revoke and to resend, users to revoke and roles to
change. The same generator feeds the chaos suite (small) and the benchmarks (large).

`mismatches(desired, state)` lists every way the sandbox's world differs from the
manifests; `duplicate_invitations(state)` lists every email that received more than one
invitation during the run (the full invitation history is kept in the sandbox: revoked and
accepted invitations stay in `Account.invitations` with their state).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from reconciler.model import Desired, IdType

SEED_INVITATION_PREFIX = "seed-inv-"
MARKETPLACES = {"NA": "ATVPDKIKX0DER", "EU": "A1F83G8C2ARO7P", "FE": "A1VC38T7YXB528"}
REGIONS = ("NA", "EU", "FE")
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class WorldSpec:
    managers: int = 4  # existing, pinned by id
    links: int = 6  # linked now, per manager; 2 of them are dropped from the manifest
    new_links: int = 2  # per manager: associate
    new_managers: int = 2  # to create, each with 2 links
    amc_accounts: int = 3
    users: int = 6  # per AMC account: user 0 admin; 1 promoted; last 2 revoked
    invitations: int = 4  # pending per AMC account: 0 resent, last revoked, rest kept
    new_invitations: int = 3  # per AMC account: invite
    name: str = "chaos"

    def minimum_reads(self) -> int:
        """Fewest read requests for the managed scopes: `GET /managerAccounts` on the three
        hosts (prune needs every region), `GET /amc/accounts` pages of 100, and per AMC
        account the invitation pages (50), user pages (100) and one role query per user."""
        per_amc = -(-self.invitations // 50) + -(-self.users // 100) + self.users
        return 3 + -(-self.amc_accounts // 100) + self.amc_accounts * per_amc

    def scaled(self, factor: int) -> WorldSpec:
        """`factor` times as many manager and AMC accounts, each the same size."""
        return replace(
            self,
            managers=self.managers * factor,
            new_managers=self.new_managers * factor,
            amc_accounts=self.amc_accounts * factor,
        )


def _region(n: int) -> str:
    return REGIONS[n % 3]


def _manager_id(m: int) -> str:
    return f"amzn1.ads1.ma1.chaos{m:06d}"


def build(spec: WorldSpec) -> tuple[dict[str, Any], dict[str, str]]:
    """(sandbox seed, {relative path: manifest text})."""
    accounts: list[dict[str, Any]] = []
    managers: list[dict[str, Any]] = []
    manifest_managers: list[dict[str, Any]] = []
    for m in range(spec.managers):
        linked = [f"ENTITYC{m:04d}L{n:03d}" for n in range(spec.links)]
        extra = [f"ENTITYC{m:04d}X{n:03d}" for n in range(spec.new_links)]
        for n, account in enumerate(linked):
            accounts.append(_account(account, _region(n)))
        for n, account in enumerate(extra):
            accounts.append(_account(account, _region(n)))
        managers.append({"id": _manager_id(m), "name": f"Chaos {m}", "links": linked})
        keep = [{"id": a, "region": _region(n)} for n, a in enumerate(linked) if n >= 2]
        add = [{"id": a, "region": _region(n)} for n, a in enumerate(extra)]
        manifest_managers.append(
            {"name": f"Chaos {m}", "id": _manager_id(m), "linkedAccounts": keep + add}
        )
    for k in range(spec.new_managers):
        fresh = [f"ENTITYN{k:04d}L{n:03d}" for n in range(2)]
        accounts += [_account(a, "NA") for a in fresh]
        manifest_managers.append(
            {
                "name": f"New Chaos {k}",
                "type": "Agency",
                "linkedAccounts": [{"id": a} for a in fresh],
            }
        )
    amcs: list[dict[str, Any]] = []
    manifest_amcs: list[dict[str, Any]] = []
    for a in range(spec.amc_accounts):
        users = [
            {
                "email": f"user{u}@amc{a}.example.com",
                "user_id": f"amzn1.account.C{a:04d}U{u:04d}",
                "role": "admin" if u == 0 else "viewer",
            }
            for u in range(spec.users)
        ]
        invitations = [
            {
                "id": f"{SEED_INVITATION_PREFIX}{a}-{i}",
                "email": f"invitee{i}@amc{a}.example.com",
                "role": "viewer",
                # invitation 0 expires in 2 days: inside the default 3-day resend window
                "age_days": 12 if i == 0 else 1,
            }
            for i in range(spec.invitations)
        ]
        amcs.append(
            {"id": _amc_id(a), "name": f"AMC {a}", "users": users, "invitations": invitations}
        )
        wanted: list[dict[str, Any]] = [
            {"userId": u["user_id"], "role": "admin" if n <= 1 else "viewer"}
            for n, u in enumerate(users[: spec.users - 2])
        ]
        wanted += [{"email": i["email"], "role": "viewer"} for i in invitations[:-1]]
        wanted += [
            {"email": f"new{n}@amc{a}.example.com", "role": "viewer" if n else "admin"}
            for n in range(spec.new_invitations)
        ]
        manifest_amcs.append({"id": _amc_id(a), "name": f"AMC {a}", "users": wanted})
    seed = {
        # Real time, no frozen clock: `plan` takes its `now` from the machine's clock, and the
        # resend window is measured against the sandbox's invitation expiry times.
        "name": spec.name,
        "accounts": accounts,
        "manager_accounts": managers,
        "amc_accounts": amcs,
    }
    files = {
        "managers.yaml": _yaml({"version": 1, "managerAccounts": manifest_managers}),
        "amc/amc.yaml": _yaml({"version": 1, "amcAccounts": manifest_amcs}),
    }
    return seed, files


def _amc_id(a: int) -> str:
    return f"ENTITYCAMC{a:05d}"


def _account(account_id: str, region: str) -> dict[str, Any]:
    return {"id": account_id, "type": "SELLER", "marketplace": MARKETPLACES[region]}


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=200)


def write(folder: Path, spec: WorldSpec) -> tuple[Path, Path]:
    """Write the seed to `folder/seed.yaml` and the manifests under `folder/manifests`."""
    seed, files = build(spec)
    seed_file = folder / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(seed, sort_keys=False), encoding="utf-8")
    manifests = folder / "manifests"
    for name, text in files.items():
        path = manifests / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return seed_file, manifests


# ---- checking -------------------------------------------------------------------------------


def sandbox_now(state: dict[str, Any]) -> float:
    base = state["frozen_at"] if state["frozen_at"] is not None else time.time()
    return float(base) + float(state["clock_offset"])


def _open(inv: dict[str, Any], now: float) -> bool:
    return bool(inv["state"] == "PENDING" and inv["expires_at"] > now)


def mismatches(desired: Desired, state: dict[str, Any]) -> list[str]:
    """Every difference between the manifests and the sandbox's world, one line each."""
    problems: list[str] = []
    now = sandbox_now(state)
    by_dsp = {a["dsp_advertiser_id"]: a["account_id"] for a in state["advertisers"]}
    live = state["manager_accounts"]
    for want in desired.manager_accounts:
        if want.id is not None:
            found = [m for m in live if m["manager_id"] == want.id]
        else:
            found = [m for m in live if m["name"] == want.name]
        if len(found) != 1:
            problems.append(f"manager {want.name!r}: {len(found)} live accounts, want 1")
            continue
        have = {link["account_id"] for link in found[0]["links"]}
        wanted = {
            by_dsp.get(link.id, link.id) if link.id_type is IdType.DSP_ADVERTISER_ID else link.id
            for link in want.links
        }
        if missing := wanted - have:
            problems.append(f"manager {want.name!r}: not linked {sorted(missing)}")
        if want.prune and (extra := have - wanted):
            problems.append(f"manager {want.name!r}: linked but not wanted {sorted(extra)}")
    amcs = {x["account_id"]: x for x in state["amc_accounts"]}
    for amc in desired.accounts:
        account = amcs.get(amc.id)
        if account is None:
            problems.append(f"AMC {amc.id}: missing")
            continue
        users = {u["user_id"]: u for u in account["users"]}
        by_email = {u["email"].lower(): u for u in account["users"]}
        pending = [i for i in account["invitations"] if _open(i, now)]
        matched_users: set[str] = set()
        matched_invitations: set[str] = set()
        for want_user in amc.users:
            role = str(want_user.grant)
            if want_user.user_id is not None:
                user = users.get(want_user.user_id)
            else:
                assert want_user.email is not None
                user = by_email.get(want_user.email.lower())
            if user is not None:
                matched_users.add(user["user_id"])
                if user["role"].lower() != role:
                    problems.append(f"AMC {amc.id}: {want_user.key} is {user['role']}, want {role}")
                continue
            invites = [i for i in pending if i["email"].lower() == want_user.key]
            if len(invites) != 1:
                problems.append(f"AMC {amc.id}: {want_user.key}: {len(invites)} open invitations")
                continue
            matched_invitations.add(invites[0]["invitation_id"])
            if invites[0]["role"] != role:
                problems.append(
                    f"AMC {amc.id}: invitation for {want_user.key} is {invites[0]['role']}"
                )
        if amc.prune:
            for user_id in sorted(set(users) - matched_users):
                problems.append(f"AMC {amc.id}: user {user_id} is not in the manifests")
            for inv in pending:
                if inv["invitation_id"] not in matched_invitations:
                    problems.append(f"AMC {amc.id}: open invitation for {inv['email']} not wanted")
    return problems


def duplicate_invitations(state: dict[str, Any]) -> list[str]:
    """Emails that received more than one invitation created after the seed, per account."""
    found: list[str] = []
    for account in state["amc_accounts"]:
        created = Counter(
            i["email"].lower()
            for i in account["invitations"]
            if not i["invitation_id"].startswith(SEED_INVITATION_PREFIX)
        )
        found += [f"{account['account_id']}: {e} x{n}" for e, n in created.items() if n > 1]
    return found


def resent_in_time(state: dict[str, Any], *, within_days: float = 3.0) -> list[str]:
    """Open invitations that expire within `within_days` (a resend that was lost)."""
    now = sandbox_now(state)
    return [
        f"{a['account_id']}: {i['email']} expires in {(i['expires_at'] - now) / DAY:.1f} days"
        for a in state["amc_accounts"]
        for i in a["invitations"]
        if _open(i, now) and i["expires_at"] - now <= within_days * DAY
    ]
