"""What kind of drift a plan shows: every item in one `DriftClass`.

Derived, never planned: a pure function of a `Plan`, so text, markdown and the plan file's
`drift` array say the same thing, and a plan file read back is checked against it.

- an action: `grant-expired` when it removes what an expired `expires:` entry granted,
  `invitation-expired` when it resends an invitation; else, with `--baseline REF` (the
  commit whose manifests are known to be applied, `Plan.baseline`), `changed` when the
  manifests at REF, planned against the same read, change the same target too (live moved
  away from what was applied: behind git's back) and `unapplied` when only the manifests
  since REF ask for it; without a baseline `differs`: either, and nothing here can say
  which, so nothing claims it (a guess is not shown as fact); `differs` too where
  the baseline's own plan held changes back for want of proof (`Baseline.unsure`);
- a waiting invitation: `waiting-for-acceptance` (not drift for `drift`'s exit code);
- a change held back until identity is proven, or a user that cannot be restored:
  `identity-unresolved`;
- a scope whose read failed or may be incomplete: `read-incomplete`;
- an `expires:` coming within `--expiring-within`: `expiring-soon` (not drift either);
- a change a safety rule keeps back (a protected user, an account's last active admin):
  `kept-back`;
- a live user with a role reconciler does not manage: `unmanaged-role` (not drift), or
  `unmanaged-role-off-policy` when that breaks the manifests (drift): Amazon shows a
  domain `allowedEmailDomains` does not allow, or an entry lists them with another role;
- with `--baseline REF`, an account REF manages and today's manifests do not:
  `no-longer-managed` (its people keep access and nothing watches it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from reconciler.actions import describe, drift_key
from reconciler.plan import TIME_KINDS, Action, DriftClass, Plan, day, when

# Reading order of the classes in summaries.
ORDER: tuple[DriftClass, ...] = (
    DriftClass.READ_INCOMPLETE,
    DriftClass.NO_LONGER_MANAGED,
    DriftClass.GRANT_EXPIRED,
    DriftClass.CHANGED,
    DriftClass.UNAPPLIED,
    DriftClass.DIFFERS,
    DriftClass.INVITATION_EXPIRED,
    DriftClass.IDENTITY_UNRESOLVED,
    DriftClass.KEPT,
    DriftClass.OFF_POLICY,
    DriftClass.UNMANAGED_ROLE,
    DriftClass.WAITING,
    DriftClass.EXPIRING_SOON,
)

LABEL: dict[DriftClass, str] = {
    DriftClass.CHANGED: "changed behind git's back",
    DriftClass.UNAPPLIED: "not applied yet",
    DriftClass.DIFFERS: "changed behind git's back or not applied yet",
    DriftClass.WAITING: "waiting for acceptance",
    DriftClass.INVITATION_EXPIRED: "invitation expired",
    DriftClass.GRANT_EXPIRED: "grant expired",
    DriftClass.EXPIRING_SOON: "expiring soon",
    DriftClass.READ_INCOMPLETE: "read incomplete",
    DriftClass.IDENTITY_UNRESOLVED: "identity unresolved",
    DriftClass.KEPT: "kept back by a safety rule",
    DriftClass.UNMANAGED_ROLE: "role not managed",
    DriftClass.OFF_POLICY: "role not managed, against the manifests",
    DriftClass.NO_LONGER_MANAGED: "no longer managed",
}


@dataclass(frozen=True, slots=True, order=True)
class DriftItem:
    drift_class: DriftClass
    scope: str
    message: str


def classify(plan: Plan) -> tuple[DriftItem, ...]:
    """Every drift item of `plan`, by class (in `ORDER`), then in plan order."""
    items: list[DriftItem] = []
    for action, by_time in zip(plan.actions, time_classes(plan), strict=True):
        cls = by_time or _against_baseline(plan, action)
        items.append(DriftItem(cls, str(action.scope), f"{describe(action)}: {action.reason}"))
    for w in plan.waiting:
        expires = f" (invitation expires {when(w.expires_at)})" if w.expires_at else ""
        items.append(
            DriftItem(
                DriftClass.WAITING,
                str(w.scope),
                f"{w.email} has not accepted the invitation as {w.role} yet{expires}",
            )
        )
    for notice in plan.held + plan.unrestorable:
        items.append(DriftItem(DriftClass.IDENTITY_UNRESOLVED, notice.scope, notice.message))
    for cls, notices in (
        (DriftClass.READ_INCOMPLETE, plan.unread),
        (DriftClass.KEPT, plan.kept),
        (DriftClass.UNMANAGED_ROLE, plan.unmanaged),
        (DriftClass.OFF_POLICY, plan.off_policy),
        (DriftClass.NO_LONGER_MANAGED, plan.baseline.dropped if plan.baseline else ()),
    ):
        items += [DriftItem(cls, notice.scope, notice.message) for notice in notices]
    for e in plan.expiries:
        if e.expired:
            continue
        why = f": {e.reason}" if e.reason else ""
        items.append(
            DriftItem(
                DriftClass.EXPIRING_SOON,
                str(e.scope),
                f"{e.who} expires on {day(e.expires_at)} ({e.file}:{e.line}){why}: extend "
                "or remove the `expires:`, or let it end",
            )
        )
    rank = {cls: n for n, cls in enumerate(ORDER)}
    return tuple(sorted(items, key=lambda i: rank[i.drift_class]))


def time_classes(plan: Plan) -> list[DriftClass | None]:
    """Per action of `plan`, in order: its class when time made it, not a change in git or
    live (an invitation that expired and is resent, a grant whose `expires:` has passed),
    else None. (A baseline plan has no such grant removal: `reconciler.workflows.baseline.plan_then`
    keeps only the `expires:` that had passed by REF's time, which are REF's own wish.)"""
    expired = {(e.account, e.target) for e in plan.expiries if e.expired and e.target}
    classes: list[DriftClass | None] = []
    for action in plan.actions:
        if action.kind in TIME_KINDS:
            classes.append(DriftClass.INVITATION_EXPIRED)
        elif action.is_removal and (action.account, action.target) in expired:
            classes.append(DriftClass.GRANT_EXPIRED)
        else:
            classes.append(None)
    return classes


def _against_baseline(plan: Plan, action: Action) -> DriftClass:
    if plan.baseline is None:
        return DriftClass.DIFFERS
    if drift_key(action) in plan.baseline.keys:
        return DriftClass.CHANGED
    if str(action.scope) in plan.baseline.unsure:
        return DriftClass.DIFFERS  # REF's own plan there is not known: no claim either way
    return DriftClass.UNAPPLIED


def heading(plan: Plan) -> str:
    """`baseline main at 0123456789ab`: what the action classes were told apart against
    ("" without one). Untrusted text (the ref): the renderers escape it."""
    if plan.baseline is None:
        return ""
    ref, commit = plan.baseline.ref, plan.baseline.commit
    if len(ref) >= 7 and commit.lower().startswith(ref.lower()):
        return f"baseline {commit[:12]}"
    return f"baseline {ref} at {commit[:12]}"


HINT = (
    "Changed behind git's back or not applied yet: `plan` or `drift` with `--baseline REF` "
    "(REF: the commit of the last successful apply) tells which."
)


def hint(items: tuple[DriftItem, ...]) -> str:
    """How to tell the `differs` items apart; "" when there are none."""
    return HINT if any(i.drift_class is DriftClass.DIFFERS for i in items) else ""


def class_counts(items: tuple[DriftItem, ...]) -> dict[DriftClass, int]:
    """Items per class, in `ORDER`, classes with none left out."""
    counts = Counter(item.drift_class for item in items)
    return {cls: counts[cls] for cls in ORDER if counts[cls]}


def summary(items: tuple[DriftItem, ...]) -> str:
    """`Drift: 1 grant expired, 2 changed behind git's back, 1 expiring soon.`; "" for none."""
    counts = class_counts(items)
    if not counts:
        return ""
    return "Drift: " + ", ".join(f"{n} {LABEL[cls]}" for cls, n in counts.items()) + "."
