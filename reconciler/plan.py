"""The plan: the contract between `plan` and `apply`.

A `Plan` is a frozen value holding every action in execution order, what is only waiting
(pending invitations, which are not changes), warnings and notes for people, the policy it was
made under and the `Live` snapshot it was computed from, so that a saved plan can tell what
moved before it is applied (`stale_changes`).

Execution order (issue #5 "Order within an apply"): phase 0 creates, phase 1 grants,
phase 2 removals and demotions, so nobody is locked out halfway. Within a phase actions are
sorted by scope, then kind in `KIND_ORDER`, then target. The executor may batch consecutive
actions of one kind and scope; it never branches on `reason`, which is for people.

The JSON file format and the stale-plan diff live in `reconciler.planning.codec` and
`reconciler.planning.stale`; the functions at the bottom front them so callers import one
module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.model import Live, Region


class ActionKind(StrEnum):
    CREATE_MANAGER_ACCOUNT = "create-manager-account"
    ASSOCIATE = "associate"
    DISASSOCIATE = "disassociate"
    INVITE = "invite"
    REVOKE_INVITATION = "revoke-invitation"
    RESEND_INVITATION = "resend-invitation"
    REVOKE_USER = "revoke-user"
    SET_ROLE = "set-role"


# Order of kinds within one phase and scope. A re-issued invitation is revoked before the new
# one is sent (both in phase 1), so the API never sees two pending invitations for one person.
KIND_ORDER: tuple[ActionKind, ...] = (
    ActionKind.CREATE_MANAGER_ACCOUNT,
    ActionKind.ASSOCIATE,
    ActionKind.DISASSOCIATE,
    ActionKind.REVOKE_INVITATION,
    ActionKind.INVITE,
    ActionKind.RESEND_INVITATION,
    ActionKind.SET_ROLE,
    ActionKind.REVOKE_USER,
)
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}

PHASE_CREATE = 0
PHASE_GRANT = 1
PHASE_REMOVE = 2

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Action:
    """One change to one target.

    `payload` is the per-target item of the API request body exactly as it will be sent (the
    executor wraps items in the batch envelope: `accounts`, `userInvitationRequests`,
    `updates`, `userPermissions`, `users`). Treat it as read-only. `manager_account_id` is None
    when the manager account is created earlier in the same plan; the executor then uses the
    id the create returned for `manager_account_name`.
    """

    kind: ActionKind
    scope: str
    target: str
    payload: Mapping[str, Any] = field(default_factory=dict, hash=False)
    reason: str = ""
    phase: int = PHASE_GRANT
    region: Region | None = None
    manager_account_id: str | None = None
    manager_account_name: str | None = None
    amc_account_id: str | None = None
    notify: bool = False
    label: str = ""  # how people know the target (an email, an account name); display only
    detail: str = ""  # the change in a few words, e.g. "viewer -> admin"; display only

    @property
    def sort_key(self) -> tuple[int, str, int, str]:
        return (self.phase, self.scope, _KIND_RANK[self.kind], self.target)

    @property
    def is_removal(self) -> bool:
        """Counted by the removal guards: a link or a person's access (or invitation) goes."""
        return self.phase == PHASE_REMOVE and self.kind in (
            ActionKind.DISASSOCIATE,
            ActionKind.REVOKE_USER,
            ActionKind.REVOKE_INVITATION,
        )


@dataclass(frozen=True, slots=True)
class Waiting:
    """A pending invitation that is already right: shown, but not a change."""

    scope: str
    amc_account_id: str
    invitation_id: str
    email: str
    role: str
    expires_at: float | None = None


@dataclass(frozen=True, slots=True, order=True)
class Notice:
    """A warning or note for people, attached to a scope ("" for the whole plan)."""

    scope: str
    message: str


@dataclass(frozen=True, slots=True)
class Policy:
    """What the plan may do. Each guard-lifting flag is named after its CLI flag.

    Lifting a guard never makes the plan unsafe: `allow_incomplete` and `allow_unresolved`
    plan *without* the removals or changes they would have blocked (skipped and reported);
    `allow_fewer_admins` permits fewer active admins than `minAdmins` but never none.
    """

    max_removals: int = 10  # --max-removals
    max_removal_fraction: float = 0.25  # --max-removal-fraction
    resend_within_days: float = 3.0  # --resend-within
    now: float = 0.0  # UTC epoch seconds; makes the plan a pure function of its inputs
    allow_incomplete: bool = False  # --allow-incomplete
    allow_unresolved: bool = False  # --allow-unresolved
    allow_fewer_admins: bool = False  # --allow-fewer-admins


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...] = ()
    waiting: tuple[Waiting, ...] = ()
    warnings: tuple[Notice, ...] = ()
    notes: tuple[Notice, ...] = ()
    live: Live = field(default_factory=Live)
    policy: Policy = field(default_factory=Policy)
    created_at: float = 0.0
    files: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION

    @property
    def is_empty(self) -> bool:
        """No change to make. Waiting invitations, warnings and notes are not changes."""
        return not self.actions

    @property
    def scopes_touched(self) -> tuple[str, ...]:
        return tuple(sorted({action.scope for action in self.actions}))

    def summary(self) -> dict[ActionKind, int]:
        """Counts by kind, in `KIND_ORDER`, kinds with no action left out."""
        counts = Counter(action.kind for action in self.actions)
        return {kind: counts[kind] for kind in KIND_ORDER if counts[kind]}


def sort_actions(actions: list[Action]) -> tuple[Action, ...]:
    return tuple(sorted(actions, key=lambda action: action.sort_key))


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan file: a JSON-able dict, valid against `schemas/plan.schema.json`."""
    from reconciler.planning.codec import encode  # the codec imports this module

    return encode(plan)


def plan_from_json(data: Any, *, source: str = "the plan file") -> Plan:
    """Read a plan file back. A bad or foreign file raises `PlanFileError` naming `source`
    and the problem, never a traceback."""
    from reconciler.planning.codec import decode

    return decode(data, source=source)


def stale_changes(saved: Live, fresh: Live, scopes: Iterable[str]) -> list[str]:
    """What moved between `saved` and `fresh` in `scopes`, one line each; [] if nothing."""
    from reconciler.planning.stale import changes

    return changes(saved, fresh, scopes)
