"""What the text and markdown renderers share: grouping by account, one phrase per action
(from its family, `reconciler.actions.describe`), the summary and binding lines. Display
only: nothing here is read back. Strings here are not escaped yet: each renderer escapes at
its own edge (`reconciler.escape`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reconciler.actions import PHRASE, SYMBOL, describe
from reconciler.model import KINDS
from reconciler.plan import (
    KIND_ORDER,
    REMOVING_KINDS,
    Action,
    ActionKind,
    Coverage,
    Notice,
    Pin,
    Plan,
    Waiting,
    when,
)
from reconciler.planfile.digest import plan_digest
from reconciler.planning.drift import LABEL, classify, heading, hint
from reconciler.planning.drift import summary as drift_summary

__all__ = [
    "SYMBOL",
    "Group",
    "counts",
    "describe",
    "describe_waiting",
    "groups",
    "policy_lines",
    "refused_line",
    "summary_line",
]

NO_CHANGES = "No changes. Live state matches the manifests."


def _phrases() -> tuple[tuple[str, tuple[ActionKind, ...]], ...]:
    """Each family's summary phrases in reading order (what is granted, in execution order,
    then what is removed); kinds that share a phrase ("to revoke" a user or an invitation)
    are counted together. Every kind has one, so none can vanish from the summary."""
    order = sorted(ActionKind, key=lambda k: (k in REMOVING_KINDS, KIND_ORDER.index(k)))
    grouped: dict[str, list[ActionKind]] = {}
    for kind in order:
        grouped.setdefault(PHRASE[kind], []).append(kind)
    return tuple((phrase, tuple(kinds)) for phrase, kinds in grouped.items())


_PHRASES = _phrases()


def counts(actions: tuple[Action, ...] | list[Action]) -> str:
    """`3 to associate, 1 to invite, 2 to revoke`; "" for no actions."""
    parts = []
    for phrase, kinds in _PHRASES:
        n = sum(1 for a in actions if a.kind in kinds)
        if n:
            parts.append(f"{n} {phrase}")
    return ", ".join(parts)


def summary_line(plan: Plan) -> str:
    if plan.in_sync:
        if plan.coverage is not None:
            return "No changes. Live state matches the manifests in the accounts covered."
        return NO_CHANGES
    waiting = [
        f"{len(items)} {what}"
        for items, what in (
            (plan.unread, "account(s) not read completely"),
            (plan.held, "held back until identity is proven"),
            (plan.unrestorable, "that cannot be restored"),
            (plan.kept, "kept back by a safety rule"),
            (plan.off_policy, "role(s) not managed, against the manifests"),
            (plan.baseline.dropped if plan.baseline else (), "account(s) no longer managed"),
        )
        if items
    ]
    if not plan.actions:
        return f"No changes can be made now; not in sync: {', '.join(waiting)}."
    tail = f" Not planned: {', '.join(waiting)}." if waiting else ""
    return f"Plan: {counts(plan.actions)}.{tail}"


def pin_line(pin: Pin, *, on: bool = False) -> str:
    held = f"; held back until then: {pin.held}" if pin.held else ""
    where = f" on {pin.account}" if on else ""
    return (
        f"{pin.file}:{pin.line}: {pin.email} is live user {pin.user_id} ({pin.masked})"
        f"{where} by masked address only: pin it with `userId: {pin.user_id}`{held}"
    )


def pin_lines(pins: tuple[Pin, ...]) -> list[str]:
    """One line per entry and user: a group member used on several accounts that one user
    fits everywhere, with nothing or the same change held back, is one pin (a userId is the
    same Amazon user in every account). An entry whose pins differ between accounts
    (different users fit it: `reconciler pin` writes none of them) gets a line per account,
    each naming its account."""
    users: dict[tuple[str, int], set[tuple[str, str]]] = {}
    for pin in pins:
        users.setdefault((pin.file, pin.line), set()).add((pin.user_id, pin.held))
    lines = (pin_line(p, on=len(users[(p.file, p.line)]) > 1) for p in pins)
    return list(dict.fromkeys(lines))


def sections(plan: Plan) -> list[tuple[str, str, list[str]]]:
    """The plan-wide sections, in reading order: (heading, mark, lines). The read problems
    come first and loudest: a plan made on a partial read is not the whole story."""

    def lines(notices: tuple[Notice, ...]) -> list[str]:
        return [f"{n.scope}: {n.message}" if n.scope else n.message for n in notices]

    changes = list(plan.baseline.policy_changes) if plan.baseline else []
    return [
        ("Read incomplete (nothing planned there):", "!", lines(plan.unread)),
        ("Policy changed since the baseline (LOOSENED: a loosening):", "!", changes),
        ("Cannot restore:", "!", lines(plan.unrestorable)),
        ("Held back until identity is proven:", "!", lines(plan.held)),
        ("Kept back by a safety rule (drift until settled):", "!", lines(plan.kept)),
        (
            "Role not managed, against the manifests (change it in the console):",
            "!",
            lines(plan.off_policy),
        ),
        (
            "No longer managed (nothing watches these accounts any more):",
            "!",
            lines(plan.baseline.dropped if plan.baseline else ()),
        ),
        (
            "Proposed pins (`reconciler pin PATH...` writes them):",
            "",
            pin_lines(plan.pins),
        ),
        ("Roles reconciler does not manage (left alone):", "", lines(plan.unmanaged)),
    ]


@dataclass(frozen=True, slots=True)
class DriftView:
    """The drift classes, from `reconciler.planning.drift`: the per-class summary line
    ("" when there is no drift), (class label, scope, message) per item, the baseline the
    actions were told apart against ("" without one) and, without one, how to get one."""

    counts: str
    items: list[tuple[str, str, str]]
    baseline: str
    hint: str


def drift_view(plan: Plan) -> DriftView:
    items = classify(plan)
    return DriftView(
        counts=drift_summary(items),
        items=[(LABEL[i.drift_class], i.scope, i.message) for i in items],
        baseline=heading(plan),
        hint=hint(items),
    )


def digest_line(plan: Plan) -> str:
    """`Plan digest: sha256:…`: what an approval names; `apply --plan` runs only this."""
    return f"Plan digest: {plan_digest(plan.actions, plan.coverage)}"


def _since(coverage: Coverage) -> str:
    commit = coverage.commit[:12]
    return commit if coverage.ref in (commit, coverage.commit) else f"{coverage.ref} at {commit}"


def coverage_section(plan: Plan) -> tuple[str, list[str]] | None:
    """`--changed-since REF`: (heading, one line per account covered and why), None for a
    plan over everything the manifests manage."""
    coverage = plan.coverage
    if coverage is None:
        return None
    since = _since(coverage)
    if not coverage.accounts:
        return (f"Covers no account: nothing the manifests ask changed since {since}.", [])
    n = len(coverage.planned)
    heading = (
        f"Covers {n} account{'s' if n != 1 else ''} changed since {since} (no other account "
        "was read or planned):"
    )
    return heading, [f"{a.scope}: {'; '.join(a.why)}" for a in coverage.accounts]


def binding_lines(plan: Plan) -> list[str]:
    """What the plan is bound to, for `show` and the plan's footer."""
    b = plan.bindings
    lines = [f"Manifests digest: {b.desired_digest or 'unknown'}"]
    if b.api_identity:
        lines.append(f"API identity: {b.api_identity}")
    if b.commit:
        lines.append(f"Commit: {b.commit}")
    if plan.coverage is not None:
        n = len(plan.coverage.planned)
        lines.append(
            f"Covers: {n} account{'s' if n != 1 else ''} changed since {_since(plan.coverage)}"
        )
    made = when(plan.created_at) if plan.created_at else "unknown"
    lines.append(f"Made: {made} by reconciler {b.tool_version or 'unknown'}")
    return lines


def refused_line(plan: Plan) -> str:
    n = len(plan.refusals)
    return (
        f"REFUSED by {n} guard{'s' if n != 1 else ''}: this plan is shown for review and "
        "will not be applied."
    )


def policy_lines(plan: Plan) -> list[str]:
    """The policy in force where it is not the default, each with where it came from."""
    p = plan.policy
    lines: list[str] = []
    for name, value in (
        ("maxRemovals", str(p.max_removals)),
        ("maxRemovalFraction", f"{p.max_removal_fraction:g}"),
        ("removalFloor", str(p.removal_floor)),
        ("resendWithinDays", f"{p.resend_within_days:g}"),
        ("allowIncomplete", "true"),
        ("allowUnresolved", "true"),
        ("allowFewerAdmins", "true"),
        ("allowedEmailDomains", ", ".join(p.allowed_email_domains)),
        ("adminGroups", ", ".join(p.admin_groups)),
    ):
        if name in p.sources:
            lines.append(f"{name}: {value} ({p.sources[name]})")
    for key, limits in sorted(p.account_limits.items()):
        parts = []
        if limits.max_removal_fraction is not None:
            parts.append(f"maxRemovalFraction {limits.max_removal_fraction:g}")
        if limits.removal_floor is not None:
            parts.append(f"removalFloor {limits.removal_floor}")
        if limits.allowed_email_domains:
            parts.append(f"allowedEmailDomains adds {', '.join(limits.allowed_email_domains)}")
        if parts:
            lines.append(f"{_account(plan, key)}: {', '.join(parts)} ({limits.source})")
    for rule in p.protected_users:
        lines.append(f"protectedUsers: {rule.who} ({rule.source})")
    return lines


def _account(plan: Plan, key: str) -> str:
    """The account an account's own `policy:` belongs to (the policy keys it by id), as
    `<kind>:<id>` when the plan's read says which kind; the id alone when it cannot."""
    kinds = {a.kind for a in plan.live.accounts if a.id == key}
    return f"{kinds.pop().value}:{key}" if len(kinds) == 1 else key


def describe_waiting(w: Waiting) -> str:
    expires = f" (expires {when(w.expires_at)})" if w.expires_at is not None else ""
    return f"waiting for {w.email} to accept the invitation as {w.role}{expires}"


@dataclass(frozen=True, slots=True)
class Group:
    scope: str
    title: str
    actions: tuple[Action, ...]
    waiting: tuple[Waiting, ...]


def _title(plan: Plan, actions: tuple[Action, ...], waiting: tuple[Waiting, ...]) -> str:
    first = actions[0] if actions else None
    if first is not None and first.manager is not None:
        manager = first.manager
        if manager.id is None:
            return f'Manager account "{manager.name}" (to be created)'
        for account in plan.live.manager_accounts:
            if account.id == manager.id:
                return f'Manager account "{account.name}" ({account.id})'
        return f'Manager account "{manager.name}" ({manager.id})'
    scope = first.scope if first is not None else waiting[0].scope
    noun = f"{KINDS[scope.kind].noun[:1].upper()}{KINDS[scope.kind].noun[1:]}"
    for amc in plan.live.accounts:
        if amc.scope == scope and amc.name:
            return f'{noun} {scope.key} "{amc.name}"'
    return f"{noun} {scope.key}"


def groups(plan: Plan) -> Iterator[Group]:
    """Accounts in scope order (manager accounts first), each with its actions in plan
    order and its waiting invitations."""
    scopes = {a.scope for a in plan.actions} | {w.scope for w in plan.waiting}
    for scope in sorted(scopes, key=lambda s: (not s.is_manager, s.key)):
        actions = tuple(a for a in plan.actions if a.scope == scope)
        waiting = tuple(w for w in plan.waiting if w.scope == scope)
        yield Group(str(scope), _title(plan, actions, waiting), actions, waiting)
