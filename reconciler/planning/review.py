"""Access reviews: when each grant the manifests make is due for review.

`policy: {reviewEvery: 90d}` (top level, or an account's own `policy:`) asks that every grant
be looked at again within that many days of its `reviewed:` date (on the entry, or on the
group's member or the group entry it comes through; the latest counts). A grant never
reviewed is due from the day its account's rule applies: it is overdue at once. Without
`reviewEvery` nothing is due."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import KINDS, Desired, DesiredUser, Scope, ScopeKind, Source
from reconciler.planning.access import Review, ReviewOf


def review_of(desired: Desired, *, now: float) -> ReviewOf:
    """The review rule of `desired` as a function of (account, entry)."""
    every = {
        a.id: (a.policy.review_every if a.policy and a.policy.review_every else None)
        for a in desired.accounts
    }
    default = desired.policy.review_every

    def of(scope: Scope, user: DesiredUser) -> Review | None:
        days = every.get(scope.key) if scope.kind is ScopeKind.AMC else None
        days = days or default
        if days is None:
            return None
        reviewed = user.reviewed
        due = (reviewed + days * 86_400) if reviewed is not None else 0.0
        return Review(due=due, reviewed=reviewed, at=user.reviewed_source or user.source)

    return of


@dataclass(frozen=True, slots=True)
class Due:
    """One grant due for review."""

    account: str  # "AMC account NAME (ID)"
    owners: tuple[str, ...]
    who: str
    role: str
    source: Source
    group: str | None
    reviewed: float | None


def due(desired: Desired, *, now: float) -> tuple[Due, ...]:
    """The grants the manifests make whose review is due at `now`, per account."""
    review = review_of(desired, now=now)
    out: list[Due] = []
    for account in desired.accounts:
        scope = account.scope
        noun = KINDS[scope.kind].noun
        label = f"{noun} {account.name} ({account.id})" if account.name else f"{noun} {account.id}"
        for user in account.users:
            found = review(scope, user)
            if found is None or found.due > now or user.source is None:
                continue
            out.append(
                Due(
                    label,
                    account.owners,
                    user.who,
                    str(user.grant),
                    user.source,
                    user.group,
                    found.reviewed,
                )
            )
    return tuple(out)
