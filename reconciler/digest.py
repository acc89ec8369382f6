"""Digests that bind a plan to what it means (issue #9).

- `plan_digest(actions, coverage)`: sha256 over what each action means, in plan order: every
  typed field except `reason` (which cites manifest file:line, and must not make a
  reformatted manifest a different plan), and for a `--changed-since` plan the accounts it
  covers. Printed by text and markdown so an approval can name it.
- `desired_digest(desired)`: sha256 over what the manifests mean: `Desired` without source
  locations, file names or the group an entry came from, every collection sorted. The same
  manifests reformatted, reordered or split over other files give the same digest.

Both are canonical JSON (sorted keys, no spaces, UTF-8) hashed with SHA-256 and written
`sha256:<hex>`. Nothing here reads a clock or the environment: the same inputs give the same
digest in any process at any time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from reconciler.model import Desired, DesiredPolicy, DesiredUser, canonical_email
from reconciler.plan import Action, Coverage

PREFIX = "sha256:"


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def action_meaning(action: Action) -> dict[str, Any]:
    """Every field of `action` but `reason`, as plain JSON values (the plan file's action
    object, less `reason`)."""
    manager = action.manager
    return {
        "kind": action.kind.value,
        "phase": action.phase,
        "target": action.target,
        "manager": None if manager is None else {"id": manager.id, "name": manager.name},
        "amcAccountId": action.amc_account_id,
        "managerType": _value(action.manager_type),
        "idType": _value(action.id_type),
        "region": _value(action.region),
        "linkRole": _value(action.link_role),
        "role": _value(action.role),
        "oldRole": _value(action.old_role),
        "email": action.email,
        "userName": action.user_name,
        "notify": action.notify,
        "label": action.label,
    }


def coverage_meaning(coverage: Coverage) -> dict[str, Any]:
    """What binds a `--changed-since` plan's scope: REF's commit, the accounts planned and
    those leaving management (not why each is in, which is for people)."""
    return {
        "commit": coverage.commit,
        "planned": sorted(a.scope for a in coverage.accounts if not a.leaving),
        "leaving": sorted(a.scope for a in coverage.accounts if a.leaving),
    }


def plan_digest(actions: Iterable[Action], coverage: Coverage | None = None) -> str:
    """The actions' meaning in plan order; for a plan made with `--changed-since`, together
    with the accounts it covers (a plan over everything keeps the digest it always had)."""
    meaning = [action_meaning(a) for a in actions]
    if coverage is None:
        return _hash(meaning)
    return _hash({"actions": meaning, "coverage": coverage_meaning(coverage)})


def short(digest: str) -> str:
    """The first 12 hex digits, for places where a person compares by eye."""
    return digest.removeprefix(PREFIX)[:12]


def _user_meaning(u: DesiredUser) -> dict[str, Any]:
    meaning: dict[str, Any] = {
        "role": u.role.value,
        "email": u.email,
        "userId": u.user_id,
        "name": u.name,
        "notUserIds": sorted(u.not_user_ids),
    }
    # `expires:` (issue #15) changes what the manifests mean; written only when set, so the
    # digest of manifests without it is what it always was.
    if u.expires is not None:
        meaning["expires"] = u.expires
        meaning["expiryReason"] = u.expiry_reason
    return meaning


def normalised_desired(desired: Desired) -> dict[str, Any]:
    """What the manifests mean, as plain sorted JSON values."""
    managers = [
        {
            "name": m.name,
            "id": m.id,
            "type": _value(m.type),
            "prune": m.prune,
            "links": sorted(
                (
                    {
                        "id": x.id,
                        "idType": x.id_type.value,
                        "region": x.region.value,
                        "role": _value(x.role),
                    }
                    for x in m.links
                ),
                key=lambda x: (x["idType"], x["id"], x["region"]),
            ),
        }
        for m in desired.manager_accounts
    ]
    amc: list[dict[str, Any]] = [
        {
            "id": a.id,
            "name": a.name,
            "prune": a.prune,
            "notify": a.notify,
            "minAdmins": a.min_admins,
            "users": sorted(
                (_user_meaning(u) for u in a.users),
                key=lambda u: (u["userId"] or "", canonical_email(u["email"] or ""), u["role"]),
            ),
        }
        for a in desired.amc_accounts
    ]
    for entry, account in zip(amc, desired.amc_accounts, strict=True):
        if account.policy is not None:
            entry["policy"] = {
                "maxRemovalFraction": account.policy.max_removal_fraction,
                "removalFloor": account.policy.removal_floor,
                "allowedEmailDomains": sorted(account.policy.allowed_email_domains),
            }
    result: dict[str, Any] = {
        "managerAccounts": sorted(managers, key=lambda m: (m["id"] or "", m["name"])),
        "amcAccounts": sorted(amc, key=lambda a: a["id"]),
    }
    p = desired.policy
    if p != DesiredPolicy():
        # Only when set, so manifests without `policy:` keep the digest they always had.
        result["policy"] = {
            "maxRemovals": p.max_removals,
            "maxRemovalFraction": p.max_removal_fraction,
            "removalFloor": p.removal_floor,
            "allowedEmailDomains": sorted(p.allowed_email_domains),
            "protectedUsers": sorted(p.protected_users),
            "adminGroups": sorted(p.admin_groups),
        }
    return result


def desired_digest(desired: Desired) -> str:
    return _hash(normalised_desired(desired))
