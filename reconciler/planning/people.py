"""Plan the people of accounts of every kind: manager, sponsored-ads, DSP and AMC accounts
(reference §4 and §5). One path for every kind; what differs between kinds (roles, custom
permission names, countries, the header) is the kind's row in `KINDS`, checked by the
manifest validator and by `reconciler.api.grants`, never a branch here.

- A pending invitation counts as the person being there. With the wrong role it is revoked
  and re-issued (both phase 1: invitations grant nothing until accepted, and revoking first
  means the API never holds two pending invitations for one person). Expired, or expiring
  within `resend_within_days`, it is resent.
- An active user with another grant (a role, or a custom permission set, and countries) gets
  `set-role`, one `PUT /userPermissions` item: a promotion is a grant (phase 1), any other
  change runs with the removals (phase 2).
- With `prune`, users and invitations nobody listed are revoked (phase 2).
- Decision: live users whose grant was not read exactly (a role the kind does not take, such
  as EDITOR on AMC; grants that differ by country; a set without its names: grant None) are
  reported as Amazon said it and never touched, listed or not. Such a grant was set
  deliberately in the console and cannot be written back by a manifest; touching it could
  lose access that the manifest has no way to express. A custom set read exactly is shown
  exactly and managed like a role.
- Unresolved masked users (see `planning.identity`) are never revoked, changed or invited.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from reconciler.actions import invitations, permissions
from reconciler.model import (
    KINDS,
    Desired,
    DesiredAccount,
    DesiredUser,
    Live,
    LiveAccount,
    LiveInvitation,
    LiveUser,
    Role,
    Scope,
    ScopeKind,
    canonical_email,
)
from reconciler.plan import (
    PHASE_GRANT,
    PHASE_REMOVE,
    Action,
    Expiry,
    Notice,
    Pin,
    Waiting,
    day,
    when,
)
from reconciler.planning.draft import AdminCount, Draft, where
from reconciler.planning.identity import (
    Ambiguity,
    Match,
    Resolution,
    invitation_is_pending,
    masked_matches,
    resolve_users,
)

DAY = 86_400.0


def plan_people(
    desired: Desired,
    live: Live,
    *,
    now: float,
    resend_within_days: float,
    expiring_within_days: float = 14.0,
) -> Draft:
    draft = Draft()
    by_scope = {account.scope: account for account in live.accounts}
    seen: set[Scope] = set()
    for account in desired.accounts:
        src = where(account.source)
        noun = account.noun
        if account.scope in seen:
            draft.problems.append(
                f"{src}: {noun} is described twice in the manifests: keep one entry"
            )
            continue
        seen.add(account.scope)
        found = by_scope.get(account.scope)
        if found is None or not found.reachable:
            facts = KINDS[account.kind]
            listing = f" ({facts.listing})" if facts.listing else ""
            draft.problems.append(
                f"{src}: {noun} is not among the {facts.noun}s these credentials can "
                f"reach{listing}: check the id, and that the credentials' user holds "
                f"{_REACH.get(account.kind, 'access')} on it"
            )
            continue
        counts = Counter(user.key for user in account.users)
        dupes = sorted(key for key, n in counts.items() if n > 1)
        if dupes:
            draft.problems.append(
                f"{src}: {noun} lists {', '.join(dupes)} more than once: keep one entry per person"
            )
            continue
        _plan_account(
            account, found, draft, desired, now=now, resend_within=resend_within_days * DAY
        )
        _note_expiring(account, draft, now=now, within=expiring_within_days * DAY)
    return draft


# What the credentials' user needs to be able to reach an account whose listing left it out.
_REACH = {ScopeKind.AMC: "AMC_ADMIN"}


def _user_name(user: DesiredUser) -> str:
    assert user.email is not None
    return user.name or user.email.split("@", 1)[0]


def _from(user: DesiredUser, action: Action) -> Action:
    """`action`, marked as coming from `user`'s entry (a group entry for a member): what
    lets a workflow that inverts the plan (`adopt`) edit that entry, and no other."""
    return replace(action, origin=user.source, member=user.key)


def _invite(account: DesiredAccount, user: DesiredUser, reason: str) -> Action:
    assert user.email is not None
    action = invitations.invite(
        account.scope,
        user.email,
        user.grant,
        _user_name(user),
        notify=account.notify,
        reason=reason,
    )
    return _from(user, action)


def _plan_account(
    account: DesiredAccount,
    live: LiveAccount,
    draft: Draft,
    desired: Desired,
    *,
    now: float,
    resend_within: float,
) -> None:
    scope = account.scope
    src = where(account.source)
    resolution = resolve_users(account, live)
    rules = Rules.of(account, desired)
    for match in resolution.matches:
        if match.user is not None and not match.desired.expired(now):
            draft.problems += rules.judge(match.desired, match.user, src)
    # A manager account's links count in the same scope (`planning.managers`): the removal
    # limits judge its links and its people together.
    draft.members[scope] = (
        draft.members.get(scope, 0)
        + len(live.users)
        + sum(map(invitation_is_pending, live.invitations))
    )
    draft.admins[scope] = AdminCount(
        min_admins=account.min_admins,
        admins=frozenset(u.user_id for u in live.users if u.role is Role.ADMIN),
        source=src,
    )
    for match in resolution.matches:
        user_src = where(match.desired.source, src)
        if match.desired.expired(now):
            _plan_expired(account, match, draft)
        elif match.user is not None and not match.proven and match.user.grant is not None:
            _plan_candidate(account, match.desired, match.user, user_src, draft)
        elif match.user is not None:
            _plan_user(account, match.desired, match.user, user_src, draft)
        elif match.invitation is not None:
            _plan_invitation(
                account,
                match.desired,
                match.invitation,
                user_src,
                draft,
                now=now,
                resend_within=resend_within,
            )
    for user in resolution.missing:
        if user.expired(now):
            draft.expiries.append(_expiry(account, user))  # an expired entry is never invited
            continue
        user_src = where(user.source, src)
        draft.actions.append(
            _invite(account, user, f"listed in {user_src} but neither a user nor invited")
        )
    for user in resolution.pinned_absent:
        if user.expired(now):
            draft.expiries.append(_expiry(account, user))
            continue
        # Drift sees every person: a pinned user gone live is a change, even one that
        # cannot be made.
        draft.unrestorable.append(
            Notice(
                str(scope),
                f"cannot restore: {where(user.source, src)}: userId {user.user_id} is not a "
                f"user of {account.id} and the entry has no `email:` to invite: add `email:` "
                "to invite them again, or remove the entry",
            )
        )
    for group in resolution.unresolved:
        _report_unresolved(account, group, scope, src, draft)
    for live_user, entry in resolution.shadowed:
        draft.held.append(
            Notice(
                str(scope),
                f"live user {live_user.user_id} ({live_user.email}) fits "
                f"{entry.email} ({where(entry.source, src)}), who also has a pending "
                "invitation, by masked address only: it is not revoked. If it is that "
                f"person, pin it: `userId: {live_user.user_id}`; if not, add "
                f"`notUserIds: [{live_user.user_id}]` to the entry",
            )
        )
    _plan_unlisted(account, resolution, scope, src, draft, rules)


def shown_domain(address: str) -> str | None:
    """The domain of a live address as Amazon shows it, None when it is masked too. Not
    normalised beyond ASCII lower case: a look-alike (the Kelvin sign K for a `k`) stays
    itself, so it is never an allowed domain (those are ASCII)."""
    domain = address.strip().rpartition("@")[2]
    if not domain or "*" in domain or "@" not in address:
        return None
    return domain.lower() if domain.isascii() else domain


@dataclass(frozen=True, slots=True)
class Rules:
    """The manifests' policy as it judges live people of one AMC account: the domain Amazon
    shows, and the pin that proves who someone is (never an entry's address, a label)."""

    noun: str  # "AMC account amc1"
    domains: frozenset[str]  # empty: any domain
    domains_where: str
    admin_groups: tuple[str, ...]
    admin_members: tuple[DesiredUser, ...]
    admin_where: str

    @classmethod
    def of(cls, account: DesiredAccount, desired: Desired) -> Rules:
        policy = desired.policy
        own = account.policy.allowed_email_domains if account.policy is not None else ()
        places = []
        if policy.allowed_email_domains:
            places.append(
                f"policy.allowedEmailDomains at {policy.sources.get('allowedEmailDomains')}"
            )
        if own and account.policy is not None:
            places.append(f"this account's policy at {account.policy.source}")
        return cls(
            noun=account.noun,
            domains=frozenset(policy.allowed_email_domains) | frozenset(own),
            domains_where=" and ".join(places),
            admin_groups=policy.admin_groups,
            admin_members=tuple(
                m for name in policy.admin_groups for m in desired.groups.get(name, ())
            ),
            admin_where=str(policy.sources.get("adminGroups", "")),
        )

    def outside(self, user: LiveUser) -> str:
        """Why the domain Amazon shows for `user` breaks `allowedEmailDomains`, or ""."""
        domain = shown_domain(user.email)
        if not self.domains or domain is None or domain in self.domains:
            return ""
        return (
            f"is at {domain}, not an allowed email domain of {self.noun} "
            f"({', '.join(sorted(self.domains))}; {self.domains_where})"
        )

    def judge(self, want: DesiredUser, user: LiveUser, src: str) -> list[str]:
        """The plan errors for the live user a manifest entry matched: a pin whose address
        cannot be the one Amazon shows, a domain outside the policy, an admin who is not
        proven to be a member of an admin group."""
        at = where(want.pin_at or want.source, src)
        pinned = want.user_id is not None and want.email is not None
        if pinned and not masked_matches(user.email, want.email or ""):
            return [
                f"{at}: userId {user.user_id} is {user.email} at Amazon, which cannot be "
                f"{want.email}, the address this entry gives it: the pin names someone "
                "else. Correct the `userId:` (`reconciler pin` proposes the right one) "
                "or the address"
            ]
        problems = []
        outside = self.outside(user)
        if outside:
            domain = shown_domain(user.email)
            problems.append(
                f"{where(want.source, src)}: live user {user.user_id} ({user.email}) {outside}: "
                f"remove the entry, or allow `{domain}` in `policy.allowedEmailDomains` (for "
                "one client's account: in that account's `policy:`)"
            )
        if want.role is Role.ADMIN and self.admin_groups and want.user_id is not None:
            problem = self._not_admin(want, user)
            if problem:
                problems.append(f"{where(want.source, src)}: {problem}")
        return problems

    def _not_admin(self, want: DesiredUser, user: LiveUser) -> str:
        """Why pinned `user` may not be admin by `adminGroups`, or "". A member pinned to
        this userId proves it; a member with the entry's address proves it only when that
        member is not pinned to someone else."""
        if want.group in self.admin_groups and want.user_id == user.user_id:
            return ""
        address = canonical_email(want.email) if want.email else None
        other = None
        for member in self.admin_members:
            if member.user_id == user.user_id:
                return ""
            if address is not None and canonical_email(member.email or "") == address:
                if member.user_id is None:
                    return ""
                other = member
        groups = ", ".join(f"`{g}`" for g in self.admin_groups)
        why = (
            f": {other.email} there is {other.user_id}. Make them a viewer, or correct the "
            "`userId:`"
            if other is not None
            else ": add them (pinned) to one of those groups, or make them a viewer"
        )
        return (
            f"live user {user.user_id} ({user.email}) is made admin of {self.noun}"
            f", but it is not a member of {groups} (policy.adminGroups at "
            f"{self.admin_where}){why}"
        )


def _expiry(account: DesiredAccount, user: DesiredUser, target: str = "") -> Expiry:
    assert user.expires is not None
    at = user.expires_source or user.source
    return Expiry(
        account=account.scope,
        who=user.email or user.user_id or "",
        expires_at=user.expires,
        file=at.file if at is not None else "the manifests",
        line=at.line if at is not None else 0,
        reason=user.expiry_reason or "",
        expired=True,
        target=target,
    )


def expired_reason(user: DesiredUser) -> str:
    """`expired on 2026-11-01 (teams/acme.yaml:14)`, and the manifest's `reason:`."""
    assert user.expires is not None
    text = f"expired on {day(user.expires)} ({where(user.expires_source or user.source)})"
    return f"{text}: {user.expiry_reason}" if user.expiry_reason else text


def _plan_expired(account: DesiredAccount, match: Match, draft: Draft) -> None:
    """An entry whose `expires:` has passed counts as absent, whatever `prune` says: its
    live user or its pending invitation is removed (phase 2, counted by the guards). That
    includes a live user that fits it by masked address only: identity resolution pairs it
    with this entry one-to-one, so this ended entry is the only one it can be (on a
    `prune: true` account deleting the entry would remove it as unlisted all the same)."""
    want = match.desired
    scope = str(account.scope)
    reason = expired_reason(want)
    user, invitation = match.user, match.invitation
    if invitation is not None:
        draft.expiries.append(_expiry(account, want, invitation.invitation_id))
        draft.actions.append(
            _from(
                want,
                invitations.revoke(account.scope, invitation, phase=PHASE_REMOVE, reason=reason),
            )
        )
        return
    assert user is not None
    if user.grant is None:
        # Found live (so the entry is not yet only the marker of an end), never removed.
        draft.expiries.append(_expiry(account, want, user.user_id))
        draft.held.append(
            Notice(
                scope,
                f"{where(want.source)}: {want.email or user.user_id} {reason}, but live user "
                f"{user.user_id} has role {user.shown}, which "
                "reconciler does not manage: remove them in the console",
            )
        )
        return
    draft.expiries.append(_expiry(account, want, user.user_id))
    draft.actions.append(_from(want, permissions.revoke_user(account.scope, user, reason=reason)))


def _note_expiring(account: DesiredAccount, draft: Draft, *, now: float, within: float) -> None:
    """Entries whose `expires:` comes within the window: listed, not a change."""
    for user in account.users:
        if user.expires is not None and now < user.expires <= now + within:
            draft.expiries.append(replace(_expiry(account, user), expired=False))


def _plan_candidate(
    account: DesiredAccount, want: DesiredUser, user: LiveUser, src: str, draft: Draft
) -> None:
    """A live user that fits the entry by masked address only: a candidate, never proof. No
    access is granted, raised, lowered or removed on it; the pin that proves it is proposed,
    with what waits for it."""
    assert want.email is not None
    live_role = user.shown
    held = "" if user.grant == want.grant else f"{live_role} -> {want.grant}"
    at = want.pin_at or want.source
    draft.pins.append(
        Pin(
            account=account.scope,
            file=at.file if at is not None else "the manifests",
            line=at.line if at is not None else 0,
            email=want.email,
            user_id=user.user_id,
            masked=user.email,
            held=held,
        )
    )
    if held:
        draft.held.append(
            Notice(
                str(account.scope),
                f"{src}: {want.email} ({want.grant}) fits live user {user.user_id} "
                f"({user.email}, {live_role}) by masked address only, so its role is not "
                f"changed. If that is {want.email}, pin it: `userId: {user.user_id}` "
                f"(`reconciler pin` writes it). If not, say so: `notUserIds: [{user.user_id}]`; "
                f"then {want.email} is invited and {user.user_id} goes by prune",
            )
        )


def _plan_user(
    account: DesiredAccount, want: DesiredUser, user: LiveUser, src: str, draft: Draft
) -> None:
    scope = str(account.scope)
    if user.grant is None:
        # Live is not what the manifests say, and reconciler cannot set it: drift.
        draft.off_policy.append(
            Notice(
                scope,
                f"{want.email or user.email} ({user.user_id}) has role {user.shown}, "
                f"which reconciler does not manage; {src} wants {want.grant}: change it "
                "in the console, then plan again",
            )
        )
        return
    if user.grant == want.grant:
        return
    action = permissions.set_role(
        account.scope,
        user,
        want.grant,
        # The entry's address, checked against what Amazon shows for a pin (`Rules.judge`).
        label=want.email or user.email,
        reason=f"{src} wants {want.grant}, live {_held(user)} is {user.grant}",
    )
    draft.actions.append(_from(want, action))


def _held(user: LiveUser) -> str:
    return "role" if user.role is not None else "permission set"


def _plan_invitation(
    account: DesiredAccount,
    want: DesiredUser,
    invitation: LiveInvitation,
    src: str,
    draft: Draft,
    *,
    now: float,
    resend_within: float,
) -> None:
    if invitation.grant != want.grant:
        old = str(invitation.grant) if invitation.grant else "another role"
        revoke = invitations.revoke(
            account.scope,
            invitation,
            phase=PHASE_GRANT,
            reason=f"pending invitation is for {old}, {src} wants {want.grant}: "
            "revoked and re-issued",
        )
        draft.actions.append(_from(want, revoke))
        what = "role" if want.role is not None else "permission set"
        draft.actions.append(_invite(account, want, f"re-issued with {what} {want.grant} ({src})"))
        return
    expires = invitation.expires_at
    if expires is not None and expires - now <= resend_within:
        reason = (
            f"invitation expired {when(expires)}"
            if invitation.expired(now)
            else f"invitation expires {when(expires)}, within the --resend-within window"
        )
        resend = invitations.resend(account.scope, invitation, notify=account.notify, reason=reason)
        draft.actions.append(_from(want, resend))
        return
    draft.waiting.append(
        Waiting(
            account=account.scope,
            invitation_id=invitation.invitation_id,
            email=invitation.email,
            role=str(want.grant),
            expires_at=expires,
        )
    )


def _needs_change(account: DesiredAccount, group: Ambiguity) -> bool:
    """Whether every way of pairing the group up would revoke or re-role someone. A group
    where all roles agree and the counts fit (e.g. two viewers `a***` for alice and anna,
    both viewers) is left alone whichever way round it is."""
    grants = {user.grant for user in group.desired} | {user.grant for user in group.candidates}
    if len(grants) != 1 or None in grants:
        return True
    return account.prune and len(group.candidates) > len(group.desired)


def _report_unresolved(
    account: DesiredAccount, group: Ambiguity, scope: Scope, src: str, draft: Draft
) -> None:
    cands = ", ".join(f"{u.user_id} ({u.email}, {u.shown})" for u in group.candidates)
    for user in group.desired:
        draft.warnings.append(
            Notice(
                str(scope),
                f"{where(user.source, src)}: {user.email} cannot be told apart from other "
                f"masked users; candidates: {cands}. Pin the right one with `userId:`. "
                "Until then it is not invited, changed or revoked",
            )
        )
    if _needs_change(account, group):
        people = ", ".join(str(user.email) for user in group.desired)
        draft.unresolved.setdefault(scope, []).append(
            f"{people} vs live {', '.join(u.user_id for u in group.candidates)}"
        )


def _plan_unlisted(
    account: DesiredAccount,
    resolution: Resolution,
    scope: Scope,
    src: str,
    draft: Draft,
    rules: Rules,
) -> None:
    for user in resolution.unlisted_users:
        if user.grant is None:
            text = (
                f"{user.email} ({user.user_id}) has role {user.shown}, "
                "which reconciler does not manage"
            )
            outside = rules.outside(user)
            if outside:
                draft.off_policy.append(
                    Notice(str(scope), f"{text}, and {outside}: remove them in the console")
                )
            else:
                draft.unmanaged.append(Notice(str(scope), f"{text}: left alone"))
        elif account.prune:
            reason = f"active user not listed in {src} (prune: true)"
            draft.actions.append(permissions.revoke_user(account.scope, user, reason=reason))
    if not account.prune:
        return
    for invitation in resolution.unlisted_invitations:
        draft.actions.append(
            invitations.revoke(
                account.scope,
                invitation,
                phase=PHASE_REMOVE,
                reason=f"invited but not listed in {src} (prune: true)",
            )
        )
