"""What the text and markdown renderers share: grouping by account, one phrase per action,
the summary line. Display only: nothing here is read back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reconciler.plan import Action, ActionKind, Plan, Waiting
from reconciler.planning.draft import when

NO_CHANGES = "No changes. Live state matches the manifests."

SYMBOL = {
    ActionKind.CREATE_MANAGER_ACCOUNT: "+",
    ActionKind.ASSOCIATE: "+",
    ActionKind.INVITE: "+",
    ActionKind.RESEND_INVITATION: "~",
    ActionKind.SET_ROLE: "~",
    ActionKind.DISASSOCIATE: "-",
    ActionKind.REVOKE_INVITATION: "-",
    ActionKind.REVOKE_USER: "-",
}

# Summary phrases in reading order; revoking a user and an invitation are both "revoke".
_PHRASES: tuple[tuple[str, tuple[ActionKind, ...]], ...] = (
    ("to create", (ActionKind.CREATE_MANAGER_ACCOUNT,)),
    ("to associate", (ActionKind.ASSOCIATE,)),
    ("to invite", (ActionKind.INVITE,)),
    ("to resend", (ActionKind.RESEND_INVITATION,)),
    ("to change role", (ActionKind.SET_ROLE,)),
    ("to disassociate", (ActionKind.DISASSOCIATE,)),
    ("to revoke", (ActionKind.REVOKE_USER, ActionKind.REVOKE_INVITATION)),
)


def counts(actions: tuple[Action, ...] | list[Action]) -> str:
    """`3 to associate, 1 to invite, 2 to revoke`; "" for no actions."""
    parts = []
    for phrase, kinds in _PHRASES:
        n = sum(1 for a in actions if a.kind in kinds)
        if n:
            parts.append(f"{n} {phrase}")
    return ", ".join(parts)


def summary_line(plan: Plan) -> str:
    return f"Plan: {counts(plan.actions)}." if plan.actions else NO_CHANGES


def describe(action: Action) -> str:
    """One action in a few words, without its reason."""
    a = action
    match a.kind:
        case ActionKind.CREATE_MANAGER_ACCOUNT:
            return f'create manager account "{a.target}" ({a.detail})'
        case ActionKind.ASSOCIATE:
            return f"associate {a.label}" + (f" as {a.detail}" if a.detail else "")
        case ActionKind.DISASSOCIATE:
            return f"disassociate {a.label}"
        case ActionKind.INVITE:
            return f"invite {a.label} as {a.detail}"
        case ActionKind.REVOKE_INVITATION:
            extra = f", {a.detail}" if a.detail else ""
            return f"revoke invitation of {a.label} ({a.target}{extra})"
        case ActionKind.RESEND_INVITATION:
            return f"resend invitation to {a.label} ({a.detail})"
        case ActionKind.SET_ROLE:
            return f"set role of {a.label} ({a.target}): {a.detail}"
        case ActionKind.REVOKE_USER:
            return f"revoke user {a.label} ({a.target}, {a.detail})"


def describe_waiting(w: Waiting) -> str:
    expires = f" (expires {when(w.expires_at)})" if w.expires_at is not None else ""
    return f"waiting for {w.email} to accept the invitation as {w.role}{expires}"


@dataclass(frozen=True, slots=True)
class Group:
    scope: str
    title: str
    actions: tuple[Action, ...]
    waiting: tuple[Waiting, ...]


def _title(plan: Plan, scope: str, actions: tuple[Action, ...]) -> str:
    kind, _, key = scope.partition(":")
    if kind == "manager":
        for account in plan.live.manager_accounts:
            if account.id == key:
                return f'Manager account "{account.name}" ({account.id})'
        name = next((a.manager_account_name for a in actions if a.manager_account_name), key)
        return f'Manager account "{name}" (to be created)'
    for amc in plan.live.amc_accounts:
        if amc.id == key and amc.name:
            return f'AMC account {key} "{amc.name}"'
    return f"AMC account {key}"


def groups(plan: Plan) -> Iterator[Group]:
    """Accounts in scope order (manager accounts first), each with its actions in plan
    order and its waiting invitations."""
    scopes = {a.scope for a in plan.actions} | {w.scope for w in plan.waiting}
    for scope in sorted(scopes, key=lambda s: (not s.startswith("manager:"), s)):
        actions = tuple(a for a in plan.actions if a.scope == scope)
        waiting = tuple(w for w in plan.waiting if w.scope == scope)
        yield Group(scope, _title(plan, scope, actions), actions, waiting)
