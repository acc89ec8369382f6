"""What a person may hold on an account of each kind, checked the way the sandbox's operations,
its seeds and its out-of-band commands all check it: one rule, read from `KINDS`.

A grant is a role (ADMIN, EDITOR, VIEWER as S-UPM spells them) or a custom permission set,
held in some countries (sponsored-ads accounts only; none means the whole account). Each
problem is a per-item error code and message, as the batch operations answer them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.model import COUNTRY_CODES, KINDS, ScopeKind

# Per-item error codes (S-INV `InvitationError.errorCode`, S-UPM `...Error.code`). [UNK] the
# codes Amazon uses; decision: these names, the same for invitations and permission updates.
INVALID_PERMISSION_SET = "INVALID_PERMISSION_SET"
INVALID_COUNTRIES = "INVALID_COUNTRIES"


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str


def a_noun(kind: ScopeKind) -> str:
    """ "a DSP account", "an AMC account"."""
    noun = KINDS[kind].noun
    return f"{'an' if noun[:1] in 'AEIOUaeiou' else 'a'} {noun}"


def upper_roles(kind: ScopeKind) -> tuple[str, ...]:
    """The kind's roles as S-UPM spells them: ADMIN, EDITOR, VIEWER."""
    return tuple(role.value.upper() for role in KINDS[kind].roles)


def invitation_roles(kind: ScopeKind) -> tuple[str, ...]:
    """The kind's roles as invitations spell them (`KindFacts.invitation_role_case`)."""
    facts = KINDS[kind]
    return tuple(
        r.value.lower() if facts.invitation_role_case == "lower" else r.value.upper()
        for r in facts.roles
    )


def role_problem(kind: ScopeKind, role: object, *, spelled: tuple[str, ...]) -> Problem | None:
    if role in spelled:
        return None
    if kind is ScopeKind.AMC and spelled == invitation_roles(kind):
        # Today's wording for AMC invitations, kept: clients may show it.
        return Problem(
            INVALID_PERMISSION_SET, f"role {role!r}: AMC invitations take {' or '.join(spelled)}"
        )
    if kind is ScopeKind.AMC:
        return Problem(INVALID_PERMISSION_SET, f"AMC accounts take ROLE {' or '.join(spelled)}")
    return Problem(
        INVALID_PERMISSION_SET, f"role {role!r}: {a_noun(kind)} takes {', '.join(spelled)}"
    )


def permissions_problem(kind: ScopeKind, names: Iterable[object]) -> Problem | None:
    """A custom permission set: only on kinds that have one, with the kind's names only."""
    facts = KINDS[kind]
    if not facts.permissions:
        # S-INV/S-UPM PermissionSet: "Manager accounts do not support custom permissions",
        # "Marketing Cloud Accounts do not support custom permissions".
        return Problem(
            INVALID_PERMISSION_SET,
            f"{a_noun(kind)} does not support custom permissions: use type ROLE",
        )
    names = list(names)
    if not names:
        return Problem(INVALID_PERMISSION_SET, "a custom permission set names 1 to 200 permissions")
    unknown = [n for n in names if n not in facts.permissions]
    if unknown:
        return Problem(
            INVALID_PERMISSION_SET,
            f"unknown permission {unknown[0]!r} for {a_noun(kind)}; it takes "
            f"{', '.join(facts.permissions)}",
        )
    return None


def countries_problem(kind: ScopeKind, countries: Iterable[object]) -> Problem | None:
    """Countries: only on sponsored-ads (global) accounts, and only S-UPM's CountryCode."""
    countries = list(countries)
    if not countries:
        return None
    if not KINDS[kind].countries:
        return Problem(INVALID_COUNTRIES, "countries apply to global accounts only")
    bad = [c for c in countries if c not in COUNTRY_CODES]
    if bad:
        return Problem(
            INVALID_COUNTRIES,
            f"{bad[0]!r} is not a country code; use {', '.join(sorted(COUNTRY_CODES))}",
        )
    return None


def grant_problem(
    kind: ScopeKind,
    *,
    role: str | None,
    permissions: tuple[str, ...],
    countries: tuple[str, ...],
) -> Problem | None:
    """A role (upper-case) xor a custom set, and countries, checked for `kind`."""
    if (role is None) == (not permissions):
        return Problem(INVALID_PERMISSION_SET, "give a role or a custom permission set, not both")
    if role is not None:
        problem = role_problem(kind, role, spelled=upper_roles(kind))
    else:
        problem = permissions_problem(kind, permissions)
    return problem or countries_problem(kind, countries)


def normal(names: Iterable[str]) -> tuple[str, ...]:
    """A set of names in one canonical order (the kind's own order does not matter)."""
    return tuple(sorted(set(names)))
