"""Request items for permission sets, exactly as the specs spell them, for every kind of
account (reference §4.2, §5, §5.1; the kind's facts come from `KINDS`).

- an invitation (S-INV `UserInvitationRequest`): `permissionSet` is `{type: ROLE, role:
  {name}}` with the role spelled as the kind's invitations spell it (AMC: `admin`; others:
  `ADMIN`), or `{type: CUSTOM_PERMISSION_SET, customPermissionSet: [{name}]}`; countries are
  `countries: [{countryCode}]`;
- a permission update (S-UPM `UserPermission`): `permissionSet` is `{type: ROLE, role:
  ADMIN}` (S-UPM's Role is an upper-case enum, not an object) or `{type:
  CUSTOM_PERMISSION_SET, customPermissionSet: [{name}]}`; countries are `countryCodes: [CC]`.

A set the kind does not take (a custom set on a manager or AMC account, a permission name of
another kind, countries anywhere but a sponsored-ads account) is a ValueError: the manifest
validator refuses those first, so one reaching here is a bug, never a request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.model import COUNTRY_CODES, KINDS, Grant, Role, ScopeKind

__all__ = ["Grant", "checked", "invitation_request", "permission_update", "read_roles"]


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'AEIOUaeiou' else 'a'} {noun}"


def checked(kind: ScopeKind, grant: Grant) -> Grant:
    """`grant` in canonical order (sorted, no repeats), or ValueError naming what `kind`
    does not take."""
    facts = KINDS[kind]
    if (grant.role is None) == (not grant.permissions):
        raise ValueError("a grant is a role or a custom permission set, not both or neither")
    if grant.role is not None and grant.role not in facts.roles:
        raise ValueError(f"{_a(facts.noun)} has no role {grant.role.value}")
    unknown = sorted(set(grant.permissions) - set(facts.permissions))
    if unknown:
        raise ValueError(
            f"{_a(facts.noun)} takes no custom permission {unknown[0]!r}"
            + (f" (it takes {', '.join(facts.permissions)})" if facts.permissions else "")
        )
    if grant.countries and not facts.countries:
        raise ValueError(f"{_a(facts.noun)} takes no countries (only sponsored-ads accounts do)")
    bad = sorted(set(grant.countries) - COUNTRY_CODES)
    if bad:
        raise ValueError(f"{bad[0]!r} is not a country code of S-UPM's CountryCode")
    return Grant(
        grant.role, tuple(sorted(set(grant.permissions))), tuple(sorted(set(grant.countries)))
    )


def _custom(names: Iterable[str]) -> dict[str, Any]:
    return {"type": "CUSTOM_PERMISSION_SET", "customPermissionSet": [{"name": n} for n in names]}


def invitation_request(kind: ScopeKind, *, email: str, name: str, grant: Grant) -> dict[str, Any]:
    """One S-INV `UserInvitationRequest` for an account of `kind`."""
    grant = checked(kind, grant)
    if grant.role is not None:
        spelled = grant.role.value
        spelled = (
            spelled.lower() if KINDS[kind].invitation_role_case == "lower" else spelled.upper()
        )
        permission_set: dict[str, Any] = {"type": "ROLE", "role": {"name": spelled}}
    else:
        permission_set = _custom(grant.permissions)
    item: dict[str, Any] = {
        "user": {"emailAddress": email, "userName": name},
        "permissionSet": permission_set,
    }
    if grant.countries:
        item["countries"] = [{"countryCode": code} for code in grant.countries]
    return item


def permission_update(kind: ScopeKind, *, user_id: str, grant: Grant) -> dict[str, Any]:
    """One S-UPM `UserPermission` (an item of `PUT /userPermissions`) for `kind`."""
    grant = checked(kind, grant)
    if grant.role is not None:
        permission_set: dict[str, Any] = {"type": "ROLE", "role": grant.role.value.upper()}
    else:
        permission_set = _custom(grant.permissions)
    item: dict[str, Any] = {"userId": user_id, "permissionSet": permission_set}
    if grant.countries:
        item["countryCodes"] = list(grant.countries)
    return item


def read_roles(roles: Sequence[Mapping[str, Any]]) -> tuple[Grant | None, ...]:
    """S-UPM `RoleForCountries` entries as grants, in the order given. A custom set is read
    from `permissions` (the newer S-UPM, reference §5.1); an entry this cannot read exactly
    (an unknown role, a custom set without its names, a name that is not a string) is None,
    so a caller never rounds what it does not know to a role."""
    out: list[Grant | None] = []
    for raw in roles:
        countries = raw.get("countryCodes") or []
        if not isinstance(countries, list) or not all(isinstance(c, str) for c in countries):
            out.append(None)
            continue
        kind = str(raw.get("type") or "ROLE").upper()
        if kind == "ROLE":
            role = Role.from_api(str(raw.get("role") or ""))
            out.append(Grant(role, (), tuple(sorted(set(countries)))) if role else None)
            continue
        names = raw.get("permissions")
        if (
            kind != "CUSTOM_PERMISSION_SET"
            or not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) for n in names)
        ):
            out.append(None)
            continue
        out.append(Grant(None, tuple(sorted(set(names))), tuple(sorted(set(countries)))))
    return tuple(out)
