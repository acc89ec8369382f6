"""Who is who in one AMC account: match manifest users to live users and invitations.

`POST /users/list` returns masked addresses such as `a***@example.com` (reference §5, release
notes), so a manifest email cannot simply be looked up. The rules (issues #4 and #5):

1. A `userId` pin matches the live user with that id.
2. A pending invitation (`POST /user-invitations/list` shows the full address) for the
   email counts as that person being there. [INF] A person with a pending invitation is taken
   not to be an active user as well: accepting an invitation consumes it.
3. Otherwise a live masked address is a pattern (each run of `*` is a wildcard, compared
   in the canonical form), and a pair fits only where the fit is one-to-one between the
   manifest's unmatched users and the live unmatched users. Such a pair is a *candidate*
   (`Match.proven` is False), never proof: the planner does not grant, raise,
   lower or remove access on it, and proposes the `userId:` pin that would prove it.
4. `notUserIds` on an entry removes those live users from its candidates: how a manifest
   says "a***@corp.example is andrew, not alice".

Anything else with candidates is *unresolved*: reported with the candidate userIds and the
advice to pin `userId`. The planner never revokes or changes an unresolved live user, and
never invites an unresolved manifest user (one of the candidates may be that person).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from reconciler.model import (
    DesiredAccount,
    DesiredUser,
    LiveAccount,
    LiveInvitation,
    LiveUser,
    canonical_email,
)

# [UNK] reference §4.7: the state enum is not published. The list call returns pending
# invitations; these states (compared case-insensitively) mean "not pending any more" and are
# ignored if a reader ever passes them on. Anything else, including unknown states, is pending.
INACTIVE_INVITATION_STATES = frozenset({"REVOKED", "ACCEPTED", "REDEEMED", "CANCELLED", "DECLINED"})


def invitation_is_pending(invitation: LiveInvitation) -> bool:
    return invitation.state.strip().upper() not in INACTIVE_INVITATION_STATES


MASKED = "masked email"


@dataclass(frozen=True, slots=True)
class Match:
    """A manifest user found live: as an active `user` or as a pending `invitation`."""

    desired: DesiredUser
    user: LiveUser | None = None
    invitation: LiveInvitation | None = None
    how: str = ""  # "userId" | "invitation" | "email" | "masked email"

    @property
    def proven(self) -> bool:
        """A pinned userId or a pending invitation (full address) proves who it is; a fit of
        a masked address does not."""
        return self.how != MASKED


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """Manifest users and live users that masked matching cannot pair one-to-one. Each
    desired user has at least one candidate here, and each live user at least one."""

    desired: tuple[DesiredUser, ...]
    candidates: tuple[LiveUser, ...]


@dataclass(frozen=True, slots=True)
class Resolution:
    matches: tuple[Match, ...] = ()
    missing: tuple[DesiredUser, ...] = ()  # not there at all: to invite
    unresolved: tuple[Ambiguity, ...] = ()
    unlisted_users: tuple[LiveUser, ...] = ()  # live users no manifest entry can be
    unlisted_invitations: tuple[LiveInvitation, ...] = ()  # pending, for nobody listed
    # Pinned users whose userId is not live and who have no email to look up or invite.
    pinned_absent: tuple[DesiredUser, ...] = ()
    # Live users that fit only an entry already matched by its pending invitation: held.
    shadowed: tuple[tuple[LiveUser, DesiredUser], ...] = ()


@lru_cache(maxsize=4096)
def _pattern(masked: str) -> tuple[str, str, re.Pattern[str] | None]:
    """(prefix, suffix, regex-or-None) for a masked address. With at most one run of `*`
    a prefix/suffix test is exact and much cheaper than a regex (benchmarks/plan_scale.py)."""
    lowered = canonical_email(masked)
    parts = re.split(r"\*+", lowered)
    if len(parts) <= 2:
        return parts[0], parts[-1] if len(parts) == 2 else "", None
    regex = re.compile(".*".join(re.escape(p) for p in parts), re.DOTALL)
    return parts[0], parts[-1], regex


def masked_matches(masked: str, email: str) -> bool:
    """Whether the live (possibly masked) address `masked` can be `email`."""
    lowered = canonical_email(email)
    prefix, suffix, regex = _pattern(masked)
    if "*" not in masked:
        return lowered == prefix
    if regex is not None:
        return regex.fullmatch(lowered) is not None
    return (
        len(lowered) >= len(prefix) + len(suffix)
        and lowered.startswith(prefix)
        and lowered.endswith(suffix)
    )


def _best_invitation(user: DesiredUser, invitations: list[LiveInvitation]) -> LiveInvitation:
    """Of several pending invitations for one address keep the right-role one that lasts
    longest; the others are then unlisted and go by prune like any other."""
    return max(
        invitations,
        key=lambda inv: (inv.role == user.role, inv.expires_at or 0.0, inv.invitation_id),
    )


def resolve_users(desired: DesiredAccount, live: LiveAccount) -> Resolution:
    """Pair the manifest's users of one AMC account with its live users and invitations."""
    matches: list[Match] = []
    pinned_absent: list[DesiredUser] = []
    missing: list[DesiredUser] = []
    users_by_id = {user.user_id: user for user in live.users}
    taken_users: set[str] = set()
    taken_invitations: set[str] = set()

    pending: dict[str, list[LiveInvitation]] = defaultdict(list)
    for invitation in live.invitations:
        if invitation_is_pending(invitation):
            pending[canonical_email(invitation.email)].append(invitation)

    pool: list[DesiredUser] = []
    for user in desired.users:
        if user.user_id is not None:
            found = users_by_id.get(user.user_id)
            if found is not None and found.user_id not in taken_users:
                taken_users.add(found.user_id)
                matches.append(Match(user, user=found, how="userId"))
                continue
        if user.email is not None:
            invitations = pending.get(canonical_email(user.email))
            if invitations:
                best = _best_invitation(user, invitations)
                if best.invitation_id not in taken_invitations:
                    taken_invitations.add(best.invitation_id)
                    matches.append(Match(user, invitation=best, how="invitation"))
                    continue
        if user.user_id is not None:
            # A pin is the identity: a pinned user absent live is missing, never guessed at.
            (missing if user.email is not None else pinned_absent).append(user)
            continue
        pool.append(user)

    loose = [user for user in live.users if user.user_id not in taken_users]
    # Bucket manifest addresses by first letter: a pattern with a literal first letter only
    # needs to be tried against those (benchmarks/plan_scale.py).
    by_initial: dict[str, list[int]] = defaultdict(list)
    for index, user in enumerate(pool):
        assert user.email is not None
        by_initial[canonical_email(user.email)[:1]].append(index)
    desired_cands: list[list[int]] = [[] for _ in pool]
    live_cands: list[list[int]] = [[] for _ in loose]
    for li, live_user in enumerate(loose):
        initial = canonical_email(live_user.email)[:1]
        tried = by_initial.get(initial, []) if initial not in ("*", "") else range(len(pool))
        for di in tried:
            email = pool[di].email
            assert email is not None
            if live_user.user_id in pool[di].not_user_ids:
                continue  # the manifest says this live user is not that entry
            if masked_matches(live_user.email, email):
                live_cands[li].append(di)
                desired_cands[di].append(li)

    unlisted_users: list[LiveUser] = []
    for di, user in enumerate(pool):
        cands = desired_cands[di]
        if not cands:
            missing.append(user)
        elif len(cands) == 1 and live_cands[cands[0]] == [di]:
            found = loose[cands[0]]
            # A full address equal to the entry's is evidence; a pattern that fits is not.
            how = MASKED if "*" in found.email else "email"
            matches.append(Match(user, user=found, how=how))
    # A live user that fits no unmatched entry may still fit one matched by its pending
    # invitation: someone may have added that person directly while the invitation waits.
    # "Accepting consumes the invitation" is an inference, not evidence, so such a user is
    # held (never revoked) until a pin or `notUserIds` says who it is.
    invited = [m.desired for m in matches if m.how == "invitation" and m.desired.email]
    shadowed: list[tuple[LiveUser, DesiredUser]] = []
    for li, live_user in enumerate(loose):
        if live_cands[li]:
            continue
        fits = next(
            (
                entry
                for entry in invited
                if live_user.user_id not in entry.not_user_ids
                and masked_matches(live_user.email, entry.email or "")
            ),
            None,
        )
        if fits is not None:
            shadowed.append((live_user, fits))
        else:
            unlisted_users.append(live_user)

    unresolved = _components(pool, loose, desired_cands, live_cands)
    unlisted_invitations = [
        inv
        for inv in live.invitations
        if invitation_is_pending(inv) and inv.invitation_id not in taken_invitations
    ]
    return Resolution(
        matches=tuple(matches),
        missing=tuple(missing),
        unresolved=unresolved,
        unlisted_users=tuple(unlisted_users),
        unlisted_invitations=tuple(unlisted_invitations),
        pinned_absent=tuple(pinned_absent),
        shadowed=tuple(shadowed),
    )


def _components(
    pool: list[DesiredUser],
    loose: list[LiveUser],
    desired_cands: list[list[int]],
    live_cands: list[list[int]],
) -> tuple[Ambiguity, ...]:
    """Connected groups of the candidate graph that are not a single one-to-one pair."""
    seen_d: set[int] = set()
    result: list[Ambiguity] = []
    for start, cands in enumerate(desired_cands):
        if start in seen_d or not cands:
            continue
        if len(cands) == 1 and live_cands[cands[0]] == [start]:
            continue
        group_d: set[int] = set()
        group_l: set[int] = set()
        stack = [start]
        while stack:
            di = stack.pop()
            if di in group_d:
                continue
            group_d.add(di)
            for li in desired_cands[di]:
                if li not in group_l:
                    group_l.add(li)
                    stack.extend(live_cands[li])
        seen_d |= group_d
        result.append(
            Ambiguity(
                desired=tuple(pool[i] for i in sorted(group_d)),
                candidates=tuple(
                    sorted((loose[i] for i in group_l), key=lambda user: user.user_id)
                ),
            )
        )
    return tuple(result)
