"""The plan file: `Plan` <-> JSON (`formatVersion: 1`, `schemas/plan.schema.json`).

The file holds every action with the payload apply will send, the summary, and the `Live`
snapshot the plan was computed from (so `apply --plan` can say what moved). JSON and
jsonschema errors stop here: a bad file becomes a `PlanFileError` naming the file and the
problem. Nothing secret is in a plan, so nothing secret is in the file.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema

from reconciler.errors import PlanFileError
from reconciler.model import (
    AmcRole,
    Incomplete,
    Live,
    LiveAmcAccount,
    LiveInvitation,
    LiveLink,
    LiveManagerAccount,
    LiveUser,
    Region,
)
from reconciler.plan import FORMAT_VERSION, Action, ActionKind, Notice, Plan, Policy, Waiting


@cache
def plan_schema() -> dict[str, Any]:
    text = (files("reconciler") / "schemas" / "plan.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _regions(values: frozenset[Region]) -> list[str]:
    return sorted(r.value for r in values)


def _role(role: AmcRole | None) -> str | None:
    return role.value if role is not None else None


def encode_live(live: Live) -> dict[str, Any]:
    return {
        "readAt": live.read_at,
        "regionsRead": _regions(live.regions_read),
        "incomplete": [{"scope": i.scope, "reason": i.reason} for i in live.incomplete],
        "managerAccounts": [
            {
                "id": m.id,
                "name": m.name,
                "regionsRead": _regions(m.regions_read),
                "truncatedRegions": _regions(m.truncated_regions),
                "links": [
                    {
                        "accountId": x.account_id,
                        "accountType": x.account_type,
                        "region": x.region.value,
                        "accountName": x.account_name,
                        "marketplaceId": x.marketplace_id,
                        "dspAdvertiserId": x.dsp_advertiser_id,
                        "profileId": x.profile_id,
                    }
                    for x in m.links
                ],
            }
            for m in live.manager_accounts
        ],
        "amcAccounts": [
            {
                "id": a.id,
                "name": a.name,
                "reachable": a.reachable,
                "users": [
                    {
                        "userId": u.user_id,
                        "email": u.email,
                        "role": _role(u.role),
                        "rawRoles": list(u.raw_roles),
                    }
                    for u in a.users
                ],
                "invitations": [
                    {
                        "invitationId": i.invitation_id,
                        "email": i.email,
                        "name": i.name,
                        "role": _role(i.role),
                        "state": i.state,
                        "createdAt": i.created_at,
                        "expiresAt": i.expires_at,
                    }
                    for i in a.invitations
                ],
            }
            for a in live.amc_accounts
        ],
    }


def decode_live(data: dict[str, Any]) -> Live:
    def role(value: str | None) -> AmcRole | None:
        return AmcRole(value) if value is not None else None

    return Live(
        read_at=data["readAt"],
        regions_read=frozenset(Region(r) for r in data["regionsRead"]),
        incomplete=tuple(Incomplete(i["scope"], i["reason"]) for i in data["incomplete"]),
        manager_accounts=tuple(
            LiveManagerAccount(
                id=m["id"],
                name=m["name"],
                regions_read=frozenset(Region(r) for r in m["regionsRead"]),
                truncated_regions=frozenset(Region(r) for r in m["truncatedRegions"]),
                links=tuple(
                    LiveLink(
                        account_id=x["accountId"],
                        account_type=x["accountType"],
                        region=Region(x["region"]),
                        account_name=x["accountName"],
                        marketplace_id=x["marketplaceId"],
                        dsp_advertiser_id=x["dspAdvertiserId"],
                        profile_id=x["profileId"],
                    )
                    for x in m["links"]
                ),
            )
            for m in data["managerAccounts"]
        ),
        amc_accounts=tuple(
            LiveAmcAccount(
                id=a["id"],
                name=a["name"],
                reachable=a["reachable"],
                users=tuple(
                    LiveUser(
                        user_id=u["userId"],
                        email=u["email"],
                        role=role(u["role"]),
                        raw_roles=tuple(u["rawRoles"]),
                    )
                    for u in a["users"]
                ),
                invitations=tuple(
                    LiveInvitation(
                        invitation_id=i["invitationId"],
                        email=i["email"],
                        name=i["name"],
                        role=role(i["role"]),
                        state=i["state"],
                        created_at=i["createdAt"],
                        expires_at=i["expiresAt"],
                    )
                    for i in a["invitations"]
                ),
            )
            for a in data["amcAccounts"]
        ),
    )


def _encode_action(a: Action) -> dict[str, Any]:
    return {
        "kind": a.kind.value,
        "phase": a.phase,
        "scope": a.scope,
        "target": a.target,
        "label": a.label,
        "detail": a.detail,
        "region": a.region.value if a.region is not None else None,
        "managerAccountId": a.manager_account_id,
        "managerAccountName": a.manager_account_name,
        "amcAccountId": a.amc_account_id,
        "notify": a.notify,
        "payload": json.loads(json.dumps(a.payload)),  # a deep, plain copy
        "reason": a.reason,
    }


def _decode_action(d: dict[str, Any]) -> Action:
    return Action(
        kind=ActionKind(d["kind"]),
        phase=d["phase"],
        scope=d["scope"],
        target=d["target"],
        label=d["label"],
        detail=d["detail"],
        region=Region(d["region"]) if d["region"] is not None else None,
        manager_account_id=d["managerAccountId"],
        manager_account_name=d["managerAccountName"],
        amc_account_id=d["amcAccountId"],
        notify=d["notify"],
        payload=d["payload"],
        reason=d["reason"],
    )


def encode(plan: Plan) -> dict[str, Any]:
    p = plan.policy
    data: dict[str, Any] = {
        "formatVersion": plan.format_version,
        "createdAt": plan.created_at,
        "files": list(plan.files),
        "summary": {kind.value: n for kind, n in plan.summary().items()},
        "policy": {
            "maxRemovals": p.max_removals,
            "maxRemovalFraction": p.max_removal_fraction,
            "resendWithinDays": p.resend_within_days,
            "now": p.now,
            "allowIncomplete": p.allow_incomplete,
            "allowUnresolved": p.allow_unresolved,
            "allowFewerAdmins": p.allow_fewer_admins,
        },
        "actions": [_encode_action(a) for a in plan.actions],
        "waiting": [
            {
                "scope": w.scope,
                "amcAccountId": w.amc_account_id,
                "invitationId": w.invitation_id,
                "email": w.email,
                "role": w.role,
                "expiresAt": w.expires_at,
            }
            for w in plan.waiting
        ],
        "warnings": [{"scope": n.scope, "message": n.message} for n in plan.warnings],
        "notes": [{"scope": n.scope, "message": n.message} for n in plan.notes],
        "live": encode_live(plan.live),
    }
    # Our own output must satisfy our own schema; a failure here is a bug, not a user error.
    jsonschema.validate(data, plan_schema())
    return data


def decode(data: Any, *, source: str) -> Plan:
    if not isinstance(data, dict) or "formatVersion" not in data:
        raise PlanFileError(
            f"{source} is not a reconciler plan file (no `formatVersion`): write one with "
            "`reconciler plan --out FILE`"
        )
    version = data["formatVersion"]
    if version != FORMAT_VERSION:
        raise PlanFileError(
            f"{source} has plan format version {version!r}; this reconciler reads version "
            f"{FORMAT_VERSION}: make the plan again with this version"
        )
    errors = sorted(
        jsonschema.Draft202012Validator(plan_schema()).iter_errors(data),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise PlanFileError(
            f"{source} is not a valid plan file (was it edited by hand?):\n"
            + "\n".join(lines)
            + more
        )
    p = data["policy"]
    return Plan(
        format_version=version,
        created_at=data["createdAt"],
        files=tuple(data["files"]),
        policy=Policy(
            max_removals=p["maxRemovals"],
            max_removal_fraction=p["maxRemovalFraction"],
            resend_within_days=p["resendWithinDays"],
            now=p["now"],
            allow_incomplete=p["allowIncomplete"],
            allow_unresolved=p["allowUnresolved"],
            allow_fewer_admins=p["allowFewerAdmins"],
        ),
        actions=tuple(_decode_action(a) for a in data["actions"]),
        waiting=tuple(
            Waiting(
                scope=w["scope"],
                amc_account_id=w["amcAccountId"],
                invitation_id=w["invitationId"],
                email=w["email"],
                role=w["role"],
                expires_at=w["expiresAt"],
            )
            for w in data["waiting"]
        ),
        warnings=tuple(Notice(n["scope"], n["message"]) for n in data["warnings"]),
        notes=tuple(Notice(n["scope"], n["message"]) for n in data["notes"]),
        live=decode_live(data["live"]),
    )
