"""The scratch record each part of the planner fills while planning (never leaves it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.model import Scope
from reconciler.plan import Action, Expiry, Notice, Pin, Waiting


@dataclass(frozen=True, slots=True)
class AdminCount:
    """Facts for the minAdmins guard of one AMC account."""

    min_admins: int
    admins: frozenset[str]  # userIds of live active users whose role is admin
    source: str


@dataclass(slots=True)
class Draft:
    """What one part of the planner found. Mutable, and local to one `make_plan` call."""

    actions: list[Action] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    notes: list[Notice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # PlanError lines
    members: dict[Scope, int] = field(default_factory=dict)  # scope -> live members
    # scope -> one line per unresolved group that would need a removal or role change
    unresolved: dict[Scope, list[str]] = field(default_factory=dict)
    admins: dict[Scope, AdminCount] = field(default_factory=dict)  # scope -> minAdmins facts
    pins: list[Pin] = field(default_factory=list)
    held: list[Notice] = field(default_factory=list)
    unrestorable: list[Notice] = field(default_factory=list)
    unread: list[Notice] = field(default_factory=list)  # scopes skipped: read incomplete
    expiries: list[Expiry] = field(default_factory=list)  # `expires:` past or coming soon
    kept: list[Notice] = field(default_factory=list)  # changes a safety rule keeps back
    unmanaged: list[Notice] = field(default_factory=list)  # roles we do not manage
    off_policy: list[Notice] = field(default_factory=list)  # ... outside the policy


def where(source: object | None, fallback: str = "the manifests") -> str:
    """A manifest location for reasons ("teams/acme.yaml:14")."""
    return str(source) if source is not None else fallback
