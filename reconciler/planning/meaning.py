"""What the manifests mean, as plain sorted JSON values: `Desired` without source
locations, file names or the group an entry came from, every collection sorted. The same
manifests reformatted, reordered or split over other files mean the same. The manifests
digest (`planfile.digest.desired_digest`) hashes it; `--changed-since` compares it account
by account (`planning.scope`)."""

from __future__ import annotations

from typing import Any

from reconciler.model import Desired, DesiredPolicy, DesiredUser, canonical_email


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def _user_meaning(u: DesiredUser) -> dict[str, Any]:
    meaning: dict[str, Any] = {
        "role": _value(u.role),
        "email": u.email,
        "userId": u.user_id,
        "name": u.name,
        "notUserIds": sorted(u.not_user_ids),
    }
    # `expires:` changes what the manifests mean; written only when set, so the
    # digest of manifests without it is what it always was.
    if u.permissions:
        meaning["permissions"] = list(u.permissions)
    if u.countries:
        meaning["countries"] = list(u.countries)
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
            "kind": a.kind.value,
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
        for a in desired.accounts
    ]
    for entry, account in zip(amc, desired.accounts, strict=True):
        if account.policy is not None:
            entry["policy"] = {
                "maxRemovalFraction": account.policy.max_removal_fraction,
                "removalFloor": account.policy.removal_floor,
                "allowedEmailDomains": sorted(account.policy.allowed_email_domains),
            }
    result: dict[str, Any] = {
        "managerAccounts": sorted(managers, key=lambda m: (m["id"] or "", m["name"])),
        "amcAccounts": sorted(amc, key=lambda a: (a["kind"], a["id"])),
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
