"""The plan file: `Plan` <-> JSON (`formatVersion: 3`, `schemas/plan.schema.json`).

The file holds every action as typed data, the plan digest, the bindings (what the plan was
computed from), the policy in force with where each setting came from, the guards that refused
it (`refused`: a refused plan is written so it can be reviewed, and never applied), the
summary, and the `Live` snapshot the plan was computed from (so
`apply --plan` can say what moved). A plan file is untrusted input (a pull request's job
wrote it): `decode` refuses a file of another format version, one that breaks the schema,
one whose actions are not a plan this tool could have made (`reconciler.actions
.check_actions`), one whose stored scopes or summary disagree with its actions, one whose
actions (and, for a `--changed-since` plan, the accounts its `coverage` lists) do not match
its `planDigest`, and one with an action outside its coverage. JSON and jsonschema errors
stop here: a bad file becomes a `PlanFileError` naming the file and the problem. Nothing
secret is in a plan.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import types
import typing
from dataclasses import fields
from enum import Enum
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.actions import check_actions, drift_key
from reconciler.errors import PlanFileError
from reconciler.model import (
    Grant,
    Incomplete,
    Live,
    LiveAccount,
    LiveInvitation,
    LiveLink,
    LiveManagerAccount,
    LiveUser,
    Region,
    Role,
    Scope,
    ScopeKind,
    manager_scope,
)
from reconciler.plan import (
    FORMAT_VERSION,
    AccountLimits,
    Action,
    Baseline,
    Bindings,
    Coverage,
    Covered,
    Expiry,
    ManagerRef,
    Notice,
    Pin,
    Plan,
    Policy,
    Protected,
    Refusal,
    Waiting,
    json_name,
)
from reconciler.planfile.digest import action_meaning, plan_digest, record
from reconciler.planning.drift import DriftItem, classify

_REFUSAL_FIELDS = ("scope", "guard", "counted", "limit", "source", "lift", "message")


# The plan's lists of notices, in file order: file name -> field name in `Plan`.
_NOTICE_LISTS = {
    "held": "held",
    "unrestorable": "unrestorable",
    "unread": "unread",
    "warnings": "warnings",
    "notes": "notes",
    "kept": "kept",
    "unmanaged": "unmanaged",
    "offPolicy": "off_policy",
}


@cache
def plan_schema() -> dict[str, Any]:
    text = (files("reconciler") / "schemas" / "plan.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _regions(values: frozenset[Region]) -> list[str]:
    return sorted(r.value for r in values)


def _role(role: Role | None) -> str | None:
    return role.value if role is not None else None


def encode_live(live: Live) -> dict[str, Any]:
    return {
        "readAt": live.read_at,
        "regionsRead": _regions(live.regions_read),
        "incomplete": [{"scope": str(i.scope), "reason": i.reason} for i in live.incomplete],
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
                "kind": a.kind.value,
                "id": a.id,
                "name": a.name,
                "reachable": a.reachable,
                "users": [
                    {
                        "userId": u.user_id,
                        "email": u.email,
                        "role": _role(u.role),
                        "rawRoles": list(u.raw_roles),
                        "grant": _grant(u.grant),
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
                        "grant": _grant(i.grant),
                    }
                    for i in a.invitations
                ],
            }
            for a in live.accounts
        ],
    }


def _grant(grant: Grant | None) -> dict[str, Any] | None:
    if grant is None:
        return None
    return {
        "role": _role(grant.role),
        "permissions": list(grant.permissions),
        "countries": list(grant.countries),
    }


def _read_grant(data: dict[str, Any] | None) -> Grant | None:
    if data is None:
        return None
    role = Role(data["role"]) if data["role"] is not None else None
    return Grant(role, tuple(data["permissions"]), tuple(data["countries"]))


def decode_live(data: dict[str, Any]) -> Live:
    def role(value: str | None) -> Role | None:
        return Role(value) if value is not None else None

    return Live(
        read_at=data["readAt"],
        regions_read=frozenset(Region(r) for r in data["regionsRead"]),
        incomplete=tuple(
            Incomplete(Scope.parse(i["scope"]), i["reason"]) for i in data["incomplete"]
        ),
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
        accounts=tuple(
            LiveAccount(
                kind=ScopeKind(a["kind"]),
                id=a["id"],
                name=a["name"],
                reachable=a["reachable"],
                users=tuple(
                    LiveUser(
                        user_id=u["userId"],
                        email=u["email"],
                        role=role(u["role"]),
                        raw_roles=tuple(u["rawRoles"]),
                        grant=_read_grant(u["grant"]),
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
                        grant=_read_grant(i["grant"]),
                    )
                    for i in a["invitations"]
                ),
            )
            for a in data["amcAccounts"]
        ),
    )


def _encode_action(a: Action) -> dict[str, Any]:
    return {**action_meaning(a), "scope": str(a.scope), "reason": a.reason}


def _typed(hint: Any, raw: Any) -> Any:
    """A plan file's JSON value as a field of type `hint` holds it (the schema has
    checked its JSON type; a value outside an enum raises ValueError)."""
    if raw is None:
        return None
    if isinstance(hint, types.UnionType):
        (hint,) = [h for h in typing.get_args(hint) if h is not type(None)]
    if typing.get_origin(hint) is tuple:
        inner = typing.get_args(hint)[0]
        return tuple(_typed(inner, v) for v in raw)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(raw)
    if hint is Scope:
        return Scope.parse(raw)
    if hint is ManagerRef:
        return ManagerRef(name=raw["name"], id=raw["id"])
    return raw


@cache
def _types(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode_record(cls: Any, d: dict[str, Any]) -> Any:
    """The plan value of type `cls` a plan file's object describes, field by field from its
    own declaration (the inverse of `digest.record`; a field added needs no line here). A
    local field (an action's `origin`) is never read from a file: it keeps its default."""
    hints = _types(cls)
    return cls(
        **{
            f.name: _typed(hints[f.name], d[json_name(f.name)])
            for f in fields(cls)
            if not f.metadata.get("local")
        }
    )


def _decode_action(d: dict[str, Any]) -> Action:
    action: Action = _decode_record(Action, d)
    return action


def encode(plan: Plan) -> dict[str, Any]:
    p = plan.policy
    data: dict[str, Any] = {
        "formatVersion": plan.format_version,
        "planDigest": plan_digest(plan.actions, plan.coverage),
        "createdAt": plan.created_at,
        "bindings": {
            "desiredDigest": plan.bindings.desired_digest,
            "apiIdentity": plan.bindings.api_identity,
            "toolVersion": plan.bindings.tool_version,
            "commit": plan.bindings.commit,
        },
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
            "removalFloor": p.removal_floor,
            "protectedUsers": [{"who": x.who, "source": x.source} for x in p.protected_users],
            "allowedEmailDomains": list(p.allowed_email_domains),
            "adminGroups": list(p.admin_groups),
            "accountLimits": {
                key: {
                    "maxRemovalFraction": limits.max_removal_fraction,
                    "removalFloor": limits.removal_floor,
                    "source": limits.source,
                    "allowedEmailDomains": list(limits.allowed_email_domains),
                }
                for key, limits in sorted(p.account_limits.items())
            },
            "sources": dict(sorted(p.sources.items())),
        },
        "refused": [{name: getattr(r, name) for name in _REFUSAL_FIELDS} for r in plan.refusals],
        "minAdmins": dict(sorted(plan.min_admins.items())),
        "actions": [_encode_action(a) for a in plan.actions],
        "waiting": [{"scope": str(w.scope), **record(w)} for w in plan.waiting],
        "pins": [record(p) for p in plan.pins],
        **{
            name: [{"scope": n.scope, "message": n.message} for n in getattr(plan, field)]
            for name, field in _NOTICE_LISTS.items()
        },
        "live": encode_live(plan.live),
        **_encode_drift(plan),
        # Only for a `--changed-since` plan: a plan over everything is the file it always was.
        **({} if plan.coverage is None else {"coverage": _encode_coverage(plan.coverage)}),
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
    try:
        return _decode_checked(data, source)
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanFileError(f"{source} is not a valid plan file ({exc})") from exc


def _decode_checked(data: dict[str, Any], source: str) -> Plan:
    version = data["formatVersion"]
    p = data["policy"]
    b = data["bindings"]
    actions = tuple(_decode_action(a) for a in data["actions"])
    problems = check_actions(actions)
    for n, (action, raw) in enumerate(zip(actions, data["actions"], strict=True), 1):
        if str(action.scope) != raw["scope"]:
            problems.append(f"action {n}: scope {raw['scope']!r} is not its account's")
    summary = {kind.value: count for kind, count in Plan(actions=actions).summary().items()}
    if summary != data["summary"]:
        problems.append("the summary does not count the actions")
    coverage = _decode_coverage(data.get("coverage"))
    digest = plan_digest(actions, coverage)
    if digest != data["planDigest"]:
        what = "the actions" if coverage is None else "the actions and the accounts covered"
        problems.append(
            f"{what} do not match the plan digest {data['planDigest']} (they hash to {digest})"
        )
    if coverage is not None:
        problems += _coverage_problems(coverage, actions)
    expiries = _decode_expiries(data["expiries"])
    baseline = _decode_baseline(data.get("baseline"))
    if baseline is not None:
        problems += _baseline_problems(baseline, actions)
    derived = Plan(actions=actions, expiries=expiries, baseline=baseline)
    drift = [_drift_item(i) for i in classify(derived)]
    if not _same_classes(drift, data["drift"]):
        problems.append("the drift classes do not match the plan's actions and expiries")
    if problems:
        raise PlanFileError(
            f"{source} is not a plan this reconciler made, or it was edited after it was "
            "made:\n"
            + "\n".join(f"  {p}" for p in problems[:20])
            + "\nMake the plan again with `reconciler plan --out FILE` and review it."
        )
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
            removal_floor=p["removalFloor"],
            protected_users=tuple(Protected(x["who"], x["source"]) for x in p["protectedUsers"]),
            allowed_email_domains=tuple(p["allowedEmailDomains"]),
            admin_groups=tuple(p["adminGroups"]),
            account_limits={
                key: AccountLimits(
                    max_removal_fraction=x["maxRemovalFraction"],
                    removal_floor=x["removalFloor"],
                    source=x["source"],
                    allowed_email_domains=tuple(x["allowedEmailDomains"]),
                )
                for key, x in p["accountLimits"].items()
            },
            sources=dict(p["sources"]),
        ),
        refusals=tuple(
            Refusal(**{name: r[name] for name in _REFUSAL_FIELDS}) for r in data["refused"]
        ),
        bindings=Bindings(
            desired_digest=b["desiredDigest"],
            api_identity=b["apiIdentity"],
            tool_version=b["toolVersion"],
            commit=b["commit"],
        ),
        actions=actions,
        min_admins=dict(data["minAdmins"]),
        waiting=tuple(_decode_record(Waiting, w) for w in data["waiting"]),
        pins=tuple(_decode_record(Pin, p) for p in data["pins"]),
        **{field: _notices(data[name]) for name, field in _NOTICE_LISTS.items()},
        live=decode_live(data["live"]),
        expiries=expiries,
        baseline=baseline,
        coverage=coverage,
    )


# Drift classes and expiries. The `drift` array is derived (`reconciler.planning.drift`);
# read back, the classes of the actions and expiries must be what they classify as (with
# the file's `baseline`, if any).


def _drift_item(item: DriftItem) -> dict[str, str]:
    return {"class": item.drift_class.value, "scope": item.scope, "message": item.message}


def _encode_drift(plan: Plan) -> dict[str, Any]:
    return {
        "expiries": [record(e) for e in plan.expiries],
        "baseline": _encode_baseline(plan.baseline),
        "drift": [_drift_item(i) for i in classify(plan)],
    }


# `--baseline REF`: which action classes were told apart against what. Like the
# reasons, it is as the file says (not in the plan digest); read back, its keys must be keys
# of the plan's own actions, and the drift array must be what they classify as.


def _notices(items: list[dict[str, str]]) -> tuple[Notice, ...]:
    return tuple(Notice(n["scope"], n["message"]) for n in items)


def _encode_baseline(baseline: Baseline | None) -> dict[str, Any] | None:
    if baseline is None:
        return None
    return {
        "ref": baseline.ref,
        "commit": baseline.commit,
        "alsoInBaseline": [
            {"scope": scope, "target": target} for scope, target in sorted(baseline.keys)
        ],
        "heldBackInBaseline": sorted(baseline.unsure),
        "noLongerManaged": [{"scope": n.scope, "message": n.message} for n in baseline.dropped],
        "policyChanges": list(baseline.policy_changes),
    }


def _decode_baseline(data: dict[str, Any] | None) -> Baseline | None:
    if data is None:
        return None
    return Baseline(
        ref=data["ref"],
        commit=data["commit"],
        keys=frozenset((k["scope"], k["target"]) for k in data["alsoInBaseline"]),
        unsure=frozenset(data["heldBackInBaseline"]),
        dropped=_notices(data["noLongerManaged"]),
        policy_changes=tuple(data["policyChanges"]),
    )


def _baseline_problems(baseline: Baseline, actions: tuple[Action, ...]) -> list[str]:
    mine = {drift_key(a) for a in actions}
    problems = [
        f"baseline: {scope} {target} is not the target of any action"
        for scope, target in sorted(baseline.keys - mine)
    ]
    scopes = {scope for scope, _ in mine}
    problems += [f"baseline: no action in {scope}" for scope in sorted(baseline.unsure - scopes)]
    return problems


# `--changed-since REF`: the accounts the plan covers. Their scopes are in the plan digest;
# read back, each must be a scope, listed once, and every action must be on one of them.


def _encode_coverage(coverage: Coverage) -> dict[str, Any]:
    return {
        "ref": coverage.ref,
        "commit": coverage.commit,
        "accounts": [
            {"scope": a.scope, "why": list(a.why), "leaving": a.leaving} for a in coverage.accounts
        ],
    }


def _decode_coverage(data: dict[str, Any] | None) -> Coverage | None:
    if data is None:
        return None
    return Coverage(
        ref=data["ref"],
        commit=data["commit"],
        accounts=tuple(
            Covered(a["scope"], tuple(a["why"]), a["leaving"]) for a in data["accounts"]
        ),
    )


def _coverage_problems(coverage: Coverage, actions: tuple[Action, ...]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for account in coverage.accounts:
        try:
            Scope.parse(account.scope)
        except ValueError:
            problems.append(f"coverage: {account.scope!r} is not an account")
        if account.scope in seen:
            problems.append(f"coverage: {account.scope} is listed twice")
        seen.add(account.scope)
    planned = coverage.planned
    for n, action in enumerate(actions, 1):
        # A manager account the manifests key by name has actions under its live id.
        names = {str(action.scope)}
        if action.manager is not None:
            names.add(str(manager_scope(action.manager.name)))
        if not names & planned:
            problems.append(f"action {n}: {action.scope} is not an account the plan covers")
    return problems


def _decode_expiries(items: list[dict[str, Any]]) -> tuple[Expiry, ...]:
    return tuple(_decode_record(Expiry, e) for e in items)


def _same_classes(derived: list[dict[str, str]], stored: list[dict[str, str]]) -> bool:
    """The action and expiry classes stored are the derived ones (the other classes come
    from held, unread and waiting items, which are display only)."""
    mine = {
        "changed",
        "unapplied",
        "differs",
        "grant-expired",
        "invitation-expired",
        "expiring-soon",
    }
    return [d for d in derived if d["class"] in mine] == [d for d in stored if d["class"] in mine]


def to_text(plan: Plan) -> str:
    """The plan file's text: the JSON of `encode`, indented, UTF-8."""
    return json.dumps(encode(plan), indent=2, ensure_ascii=False) + "\n"


def write(path: str | os.PathLike[str], plan: Plan) -> None:
    """Write the plan file atomically, readable by its owner only (0600): it holds full
    email addresses, which are personal data."""
    target = Path(path)
    text = to_text(plan)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)  # mkstemp makes 0600 already; say so, whatever the umask
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise PlanFileError(f"{target}: cannot write the plan file ({exc.strerror})") from exc


def read(path: str | os.PathLike[str]) -> Plan:
    """Read and check a plan file (see `decode`); every problem is a `PlanFileError`."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"{target}: cannot read the plan file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise PlanFileError(
            f"{target} is not UTF-8 text ({exc.reason}): is it a plan file?"
        ) from exc

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number a plan file can hold")

    try:
        data = json.loads(text, parse_constant=no_constant)
    except RecursionError as exc:
        raise PlanFileError(f"{target} is nested too deeply to be a plan file") from exc
    except ValueError as exc:
        raise PlanFileError(f"{target} is not JSON ({exc}): is it a plan file?") from exc
    return decode(data, source=str(target))
