"""`policy.protectedUsers`: people the planner never removes, demotes, or whose invitation it
revokes (break-glass accounts, the account the tool itself runs as).

An entry is a userId or an address. A userId matches a live user by id. An address covers
only the user proven to be it: an invitation or a live user whose address is that address
exactly, in canonical form (`model.canonical_email`), or the live user a manifest entry with
that address pins by `userId:` (a userId is the same Amazon user in every account). A masked
live address (`r***@agency.example`) is never taken to *be* a protected address: once a pin
says who the protected user is, a look-alike is someone else and goes like anyone else. Only
while nothing proves who the protected user is does a masked address that fits hold its
removal back (a guess may hold a change back; it never grants). Whatever is kept is listed
in `Plan.kept`, naming the rule's location: drift, never "in sync".
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import Desired, Live, Role, canonical_email
from reconciler.plan import PHASE_GRANT, Action, ActionKind, Notice, Policy, Protected
from reconciler.planning.draft import Draft
from reconciler.planning.identity import masked_matches


def _address(action: Action, live: Live) -> str:
    """The live address behind an action (masked or not), "" when there is none."""
    if action.kind is ActionKind.REVOKE_INVITATION:
        return action.email or ""
    for account in live.accounts:
        if account.scope == action.account:
            for user in account.users:
                if user.user_id == action.target:
                    return user.email
    return action.label


def _takes_away(action: Action) -> bool:
    if action.kind is ActionKind.REVOKE_USER:
        return True
    if action.kind is ActionKind.REVOKE_INVITATION:
        # In phase 1 it is half of a re-issue with another role: a demotion only from admin.
        return action.phase != PHASE_GRANT or action.role is Role.ADMIN
    return (
        action.kind is ActionKind.SET_ROLE
        and action.old_role is Role.ADMIN
        and action.role is not Role.ADMIN
    )


@dataclass(frozen=True, slots=True)
class Pinned:
    """What the manifests' `userId:` pins prove: address -> userIds, userId -> addresses
    (canonical). The planner has already refused a pin whose address cannot be the one
    Amazon shows for it."""

    ids: dict[str, frozenset[str]]
    addresses: dict[str, frozenset[str]]

    @classmethod
    def of(cls, desired: Desired) -> Pinned:
        ids: dict[str, set[str]] = {}
        addresses: dict[str, set[str]] = {}
        people = [u for a in desired.accounts for u in a.users]
        people += [u for members in desired.groups.values() for u in members]
        for person in people:
            if person.user_id is not None and person.email is not None:
                address = canonical_email(person.email)
                ids.setdefault(address, set()).add(person.user_id)
                addresses.setdefault(person.user_id, set()).add(address)
        return cls(
            {k: frozenset(v) for k, v in ids.items()},
            {k: frozenset(v) for k, v in addresses.items()},
        )


def _match(action: Action, address: str, rule: Protected, pinned: Pinned) -> str | None:
    """ "exact" when `rule` is proven to name this target, "guess" when only a masked
    address could be it and nothing proves who either is, None otherwise."""
    if not rule.is_address:
        by_id = action.kind is not ActionKind.REVOKE_INVITATION and action.target == rule.who
        return "exact" if by_id else None
    live = canonical_email(address)
    if action.kind is ActionKind.REVOKE_INVITATION or "*" not in live:
        return "exact" if live == rule.who else None  # a full address
    known = pinned.addresses.get(action.target)
    if known is not None:
        return "exact" if rule.who in known else None  # pinned: proven who it is
    if pinned.ids.get(rule.who):
        return None  # the protected user is pinned, and this is someone else
    return "guess" if masked_matches(live, rule.who) else None


def keep_protected(draft: Draft, live: Live, policy: Policy, desired: Desired) -> None:
    """Drop every action that would take access away from a protected user; list each."""
    if not policy.protected_users:
        return
    pinned = Pinned.of(desired)
    dropped: set[int] = set()
    for action in draft.actions:
        if not _takes_away(action):
            continue
        address = _address(action, live)
        found = [
            (how, rule)
            for rule in policy.protected_users
            if (how := _match(action, address, rule, pinned))
        ]
        if not found:
            continue
        # A rule that names the target wins over one a masked address could only guess at.
        how, rule = min(found, key=lambda pair: (pair[0] != "exact", pair[1]))
        dropped.add(id(action))
        who = f"{address} ({action.target})" if address else action.target
        what = {
            ActionKind.REVOKE_USER: "revoking",
            ActionKind.REVOKE_INVITATION: "revoking the invitation of",
            ActionKind.SET_ROLE: "demoting",
        }[action.kind]
        if how == "exact":
            message = (
                f"kept: {what} {who} not planned; protected by policy.protectedUsers "
                f"{rule.who} at {rule.source}"
            )
        else:
            message = (
                f"kept: {what} {who} not planned; its masked address could be the "
                f"protected {rule.who} (policy.protectedUsers at {rule.source}), and "
                "nothing proves who that is: pin the protected user (`userId:` on their "
                "manifest entry, or their userId in policy.protectedUsers) to settle it"
            )
        draft.kept.append(Notice(str(action.scope), message))
    # A protected invitation re-issued with a lesser role would be a demotion in two steps:
    # keep the re-issue out as well when its revoke was kept.
    kept_revokes = {
        (a.account, (a.email or "").lower())
        for a in draft.actions
        if id(a) in dropped and a.kind is ActionKind.REVOKE_INVITATION and a.phase == PHASE_GRANT
    }
    for action in draft.actions:
        if (
            action.kind is ActionKind.INVITE
            and (action.account, action.target.lower()) in kept_revokes
        ):
            dropped.add(id(action))
    draft.actions = [a for a in draft.actions if id(a) not in dropped]
