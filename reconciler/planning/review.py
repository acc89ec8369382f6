"""Access reviews: when each grant the manifests make is due for review.

`policy: {reviewEvery: 90d}` (top level, or an account's own `policy:`) asks that every grant
be looked at again within that many days of its `reviewed:` date (on the entry, or on the
group's member or the group entry it comes through; the latest counts). A grant never
reviewed is due from the day its account's rule applies: it is overdue at once. Without
`reviewEvery` nothing is due."""

from __future__ import annotations

from reconciler.model import Desired, DesiredUser, Scope, ScopeKind
from reconciler.planning.access import Review, ReviewOf


def review_of(desired: Desired, *, now: float) -> ReviewOf:
    """The review rule of `desired` as a function of (account, entry)."""
    every = {
        a.id: (a.policy.review_every if a.policy and a.policy.review_every else None)
        for a in desired.amc_accounts
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
