"""Planning: a pure function of (manifests, live state, policy) -> `Plan`.

Same inputs, same plan: nothing here reads a clock, the network or the environment (the
time comes in as `Policy.now`), and every collection is sorted before it leaves. The rules
live in `reconciler.planning`: `managers` (manager accounts and links), `amc` (the users
and invitations of accounts of every kind, on top of `reconciler.planning.identity`) and
`guards`.
"""

from __future__ import annotations

from reconciler.errors import GuardError, PlanError
from reconciler.model import Desired, Live
from reconciler.plan import Plan, Policy, sort_actions
from reconciler.planning.guards import apply_guards
from reconciler.planning.managers import plan_managers
from reconciler.planning.people import plan_people
from reconciler.planning.protect import keep_protected


def make_plan(desired: Desired, live: Live, policy: Policy) -> Plan:
    """The actions that make `live` what `desired` describes, in execution order.

    Raises `PlanError` when no safe plan can be computed (an `id` pin that is not live, two
    live manager accounts with one name, a manager account to create without a `type`, an
    unreachable AMC account), all problems at once. A safety guard that refuses does not
    raise: the plan is made in full and carries its `refusals` (it is shown, never applied);
    `allowed_plan` raises `GuardError` instead, for callers that want an exception.
    Protected users (`policy.protectedUsers`) are kept before any guard counts.
    """
    managers = plan_managers(desired, live)
    amc = plan_people(
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
    keep_protected(draft, live, policy, desired)
    refusals = apply_guards(draft, live, policy)

    return Plan(
        actions=sort_actions(draft.actions),
        waiting=tuple(sorted(draft.waiting, key=lambda w: (w.scope, w.email.lower()))),
        warnings=tuple(sorted(draft.warnings)),
        notes=tuple(sorted(draft.notes)),
        live=live,
        policy=policy,
        created_at=policy.now,
        files=desired.files,
        min_admins={str(scope): facts.min_admins for scope, facts in sorted(draft.admins.items())},
        refusals=tuple(refusals),
        pins=tuple(sorted(draft.pins)),
        held=tuple(sorted(draft.held)),
        unrestorable=tuple(sorted(draft.unrestorable)),
        unread=tuple(sorted(draft.unread)),
        expiries=tuple(sorted(draft.expiries)),
        kept=tuple(sorted(draft.kept)),
        unmanaged=tuple(sorted(draft.unmanaged)),
        off_policy=tuple(sorted(draft.off_policy)),
    )


def refusal_error(plan: Plan) -> GuardError | None:
    """The `GuardError` a refused plan stands for (one line per refusal), None if allowed."""
    if not plan.refusals:
        return None
    return GuardError([r.message for r in plan.refusals])


def allowed_plan(desired: Desired, live: Live, policy: Policy) -> Plan:
    """`make_plan`, raising `GuardError` when a guard refuses."""
    plan = make_plan(desired, live, policy)
    error = refusal_error(plan)
    if error is not None:
        raise error
    return plan
