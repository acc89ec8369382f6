"""Planning: a pure function of (manifests, live state, policy) -> `Plan`.

Same inputs, same plan: nothing here reads a clock, the network or the environment (the
time comes in as `Policy.now`), and every collection is sorted before it leaves. The rules
live in `reconciler.planning`: `managers` (manager accounts and links), `amc` (AMC users
and invitations, on top of `reconciler.identity`) and `guards`.
"""

from __future__ import annotations

from reconciler.errors import GuardError, PlanError
from reconciler.model import Desired, Live
from reconciler.plan import Plan, Policy, sort_actions
from reconciler.planning.amc import plan_amc
from reconciler.planning.guards import apply_guards
from reconciler.planning.managers import plan_managers


def make_plan(desired: Desired, live: Live, policy: Policy) -> Plan:
    """The actions that make `live` what `desired` describes, in execution order.

    Raises `PlanError` when no safe plan can be computed (an `id` pin that is not live, two
    live manager accounts with one name, a manager account to create without a `type`, an
    unreachable AMC account), all problems at once; and `GuardError` when a safety guard
    refuses, one line per violation, each naming the flag that lifts it.
    """
    managers = plan_managers(desired, live)
    amc = plan_amc(
        desired,
        live,
        now=policy.now,
        resend_within_days=policy.resend_within_days,
        expiring_within_days=policy.expiring_within_days,
    )
    problems = managers.problems + amc.problems
    if problems:
        raise PlanError(problems)

    draft = amc
    draft.actions = managers.actions + amc.actions
    draft.warnings = managers.warnings + amc.warnings
    draft.notes = managers.notes + amc.notes
    draft.members = {**managers.members, **amc.members}
    draft.unrestorable = managers.unrestorable + amc.unrestorable
    violations = apply_guards(draft, live, policy)
    if violations:
        raise GuardError(violations)

    return Plan(
        actions=sort_actions(draft.actions),
        waiting=tuple(sorted(draft.waiting, key=lambda w: (w.scope, w.email.lower()))),
        warnings=tuple(sorted(draft.warnings)),
        notes=tuple(sorted(draft.notes)),
        live=live,
        policy=policy,
        created_at=policy.now,
        files=desired.files,
        min_admins={scope.key: facts.min_admins for scope, facts in sorted(draft.admins.items())},
        pins=tuple(sorted(draft.pins)),
        held=tuple(sorted(draft.held)),
        unrestorable=tuple(sorted(draft.unrestorable)),
        unread=tuple(sorted(draft.unread)),
        expiries=tuple(sorted(draft.expiries)),
    )
