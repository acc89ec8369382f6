"""Digests that bind a plan to what it means.

- `plan_digest(actions)`: sha256 over what each action means, in plan order: every typed
  field except `reason` (which cites manifest file:line, and must not make a reformatted
  manifest a different plan). Printed by text and markdown so an approval can name it.
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
from dataclasses import fields
from enum import Enum
from typing import Any

from reconciler.model import Desired, DesiredPolicy, DesiredUser, canonical_email
from reconciler.plan import Action, ManagerRef, json_name

PREFIX = "sha256:"


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def action_meaning(action: Action) -> dict[str, Any]:
    """Every field of `action` but `reason`, as plain JSON values under its plan-file name
    (the plan file's action object, less `scope` and `reason`). Derived from `Action`'s
    fields, so a field a new kind adds is in the digest without a line here."""
    return {
        json_name(f.name): _plain(getattr(action, f.name))
        for f in fields(Action)
        if f.name != "reason"
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, ManagerRef):
        return {"id": value.id, "name": value.name}
    if isinstance(value, tuple | frozenset):
        return [_plain(v) for v in value]
    return value


def plan_digest(actions: Iterable[Action]) -> str:
    return _hash([action_meaning(a) for a in actions])


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
    # `expires:` changes what the manifests mean; written only when set, so the
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
