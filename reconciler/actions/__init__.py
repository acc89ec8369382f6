"""Action families: one module per family says how its actions are planned into
typed values, described, batched, sent and recognised as done.

    manager_accounts  create-manager-account
    links             associate, disassociate
    invitations       invite, revoke-invitation, resend-invitation
    permissions       set-role, revoke-user

Everything else looks a family up here (`family`, `SYMBOL`, `PHRASE`): the renderers, the
plan file's checks and the executor. Adding a kind touches its family module, `ActionKind`
and `KIND_ORDER` in `reconciler.plan` (the plan's values: execution order, and whether it
removes access), the plan file's schema, and tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from reconciler.actions.base import Family
from reconciler.actions.invitations import Invitations
from reconciler.actions.links import Links
from reconciler.actions.manager_accounts import ManagerAccounts
from reconciler.actions.permissions import Permissions
from reconciler.model import canonical_email
from reconciler.plan import PHASE_GRANT, Action, ActionKind

_ALL: tuple[Family, ...] = (ManagerAccounts(), Links(), Invitations(), Permissions())
FAMILIES: dict[ActionKind, Family] = {kind: f for f in _ALL for kind in f.kinds}
assert set(FAMILIES) == set(ActionKind), "every kind belongs to exactly one family"

# How each kind reads at a glance (added, changed, removed), and its summary phrase.
SYMBOL: dict[ActionKind, str] = {kind: f.symbols[kind] for f in _ALL for kind in f.kinds}
PHRASE: dict[ActionKind, str] = {kind: f.phrases[kind] for f in _ALL for kind in f.kinds}


def family(kind: ActionKind) -> Family:
    return FAMILIES[kind]


def describe(action: Action) -> str:
    return FAMILIES[action.kind].describe(action)


def drift_key(action: Action) -> tuple[str, str]:
    """(scope, target) of an action for `--baseline` (`Family.drift_target`)."""
    return (str(action.scope), FAMILIES[action.kind].drift_target(action))


def check_actions(actions: Sequence[Action]) -> list[str]:
    """Whether a list of actions is a plan this tool could have made: each action's fields
    fit its kind, the order is execution order, no target is changed twice, an action on a
    manager account known only by name follows a create of it in the same plan, and a
    revoke in the grant phase is a re-issue (an invitation to the same address follows)."""
    problems: list[str] = []
    for n, action in enumerate(actions, 1):
        for problem in FAMILIES[action.kind].check(action):
            problems.append(f"action {n} ({action.kind.value} {action.target}): {problem}")
    keys = [a.sort_key for a in actions]
    if keys != sorted(keys):
        problems.append("the actions are not in execution order")
    twice = [k for k, n in Counter((a.kind, a.scope, a.target) for a in actions).items() if n > 1]
    problems += [f"{kind.value} {target} in {scope} appears twice" for kind, scope, target in twice]
    created = {a.target for a in actions if a.kind is ActionKind.CREATE_MANAGER_ACCOUNT}
    for action in actions:
        manager = action.manager
        if (
            manager is not None
            and manager.id is None
            and action.kind is not ActionKind.CREATE_MANAGER_ACCOUNT
            and manager.name not in created
        ):
            problems.append(
                f"{action.kind.value} {action.target}: manager account {manager.name!r} has no "
                "id and is not created by this plan"
            )
    invited = {
        (a.account, canonical_email(a.target)) for a in actions if a.kind is ActionKind.INVITE
    }
    for action in actions:
        if (
            action.kind is ActionKind.REVOKE_INVITATION
            and action.phase == PHASE_GRANT
            and (action.account, canonical_email(action.email or "")) not in invited
        ):
            problems.append(
                f"revoke-invitation {action.target} runs with the grants but nothing re-issues it"
            )
    return problems
