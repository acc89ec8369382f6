"""Who holds what: every grant on every account the manifests manage, one row per person and
account, from the one live read and the one identity resolution the planner uses
(`planning.identity.resolve_users`), never a second guess at who is who.

A row is about an account by its typed address (`Scope`: kind and id; `KINDS[kind].noun` is
how people read it), so a kind of account whose people are read is one more producer of
rows (`_AMC_ROWS` style: one function per kind listed in `PRODUCERS`), never a branch in the
renderers. Access a manager account's people inherit on its linked accounts is a row with
`via` set ("manager account NAME"): while the people of manager accounts are not read, the
row names the manager account instead of a person.

Evidence before attribution: a live user is tied to a manifest entry (its FILE:LINE, its
address) only by a proven match (a `userId:` pin, a pending invitation's full address, an
exact unmasked address). A masked address that merely fits an entry is shown as Amazon shows
it, with `source` null ("live only") and a note naming the entry it fits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler.model import (
    KINDS,
    Desired,
    DesiredUser,
    Live,
    LiveInvitation,
    LiveUser,
    Scope,
    ScopeKind,
    Source,
    canonical_email,
)
from reconciler.planning.identity import MASKED, invitation_is_pending, resolve_users

ACTIVE = "active"
INVITED = "invited"
INVITATION_EXPIRED = "invitation expired"

# `LiveLink.account_type` (reference §2.2) -> the kind of account a link gives access to.
LINK_KINDS: dict[str, ScopeKind] = {
    "SELLER": ScopeKind.SPONSORED_ADS,
    "VENDOR": ScopeKind.SPONSORED_ADS,
    "DSP_ADVERTISING_ACCOUNT": ScopeKind.DSP,
    "MARKETING_CLOUD": ScopeKind.AMC,
}


@dataclass(frozen=True, slots=True)
class Review:
    """When a grant was last reviewed (`reviewed:`) and when it is due (`reviewEvery`),
    both UTC epoch seconds; `at` is where the `reviewed:` is written (or the entry)."""

    due: float
    reviewed: float | None = None
    at: Source | None = None


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    """One person's access to one account, as read live.

    `email` is the address as Amazon shows it (masked for an active user); `manifest_email`
    the manifest's address, only when the match is proven. `source` is None for access no
    manifest grants ("live only")."""

    scope: Scope
    account_name: str = ""
    user_id: str | None = None
    email: str | None = None
    manifest_email: str | None = None
    role: str | None = None
    permissions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    state: str = ACTIVE
    source: Source | None = None
    group: str | None = None
    expires: float | None = None
    via: str | None = None
    note: str = ""
    review: Review | None = None

    @property
    def noun(self) -> str:
        return KINDS[self.scope.kind].noun

    def overdue(self, now: float) -> bool:
        return self.review is not None and self.review.due <= now

    def names(self, who: str) -> bool:
        """Whether this row is `who` (a userId, or an address): by userId, by the proven
        manifest address, or by an address Amazon shows in full. A masked address never
        names anyone on its own."""
        if self.user_id is not None and who == self.user_id:
            return True
        wanted = canonical_email(who)
        shown = [self.manifest_email]
        if self.email is not None and "*" not in self.email:
            shown.append(self.email)
        return any(address is not None and canonical_email(address) == wanted for address in shown)


@dataclass(frozen=True, slots=True)
class Access:
    grants: tuple[Grant, ...] = ()
    incomplete: tuple[tuple[Scope, str], ...] = ()  # (account, why), read may miss grants


ReviewOf = Callable[[Scope, DesiredUser], Review | None]


def _no_review(scope: Scope, user: DesiredUser) -> Review | None:
    return None


def _role(user: LiveUser) -> tuple[str | None, tuple[str, ...]]:
    """A role we know, or exactly what Amazon says (a custom set is never rounded: it is
    shown with its names and countries when read exactly)."""
    if user.role is not None and not (user.grant is not None and user.grant.countries):
        return user.role.value, ()
    return None, (user.shown,) if user.grant is not None else user.raw_roles


def _invitation_state(invitation: LiveInvitation, now: float) -> str:
    return INVITATION_EXPIRED if invitation.expired(now) else INVITED


def _amc_rows(desired: Desired, live: Live, now: float, review: ReviewOf) -> Iterable[Grant]:
    for account in desired.accounts:
        scope = account.scope
        found = live.reachable(scope)
        if found is None:
            continue
        name = account.name or found.name
        resolution = resolve_users(account, found)
        for match in resolution.matches:
            entry = match.desired
            if match.user is not None:
                role, raw = _role(match.user)
                if match.how == MASKED:
                    yield Grant(
                        scope, name, match.user.user_id, match.user.email, role=role,
                        permissions=raw, note=f"fits {entry.source} by masked address only",
                    )  # fmt: skip
                    continue
                yield Grant(
                    scope, name, match.user.user_id, match.user.email,
                    manifest_email=entry.email, role=role, permissions=raw,
                    source=entry.source, group=entry.group, expires=entry.expires,
                    review=review(scope, entry),
                )  # fmt: skip
            elif match.invitation is not None:
                invitation = match.invitation
                yield Grant(
                    scope, name, None, invitation.email, manifest_email=entry.email,
                    role=invitation.role.value if invitation.role else None,
                    state=_invitation_state(invitation, now), source=entry.source,
                    group=entry.group, expires=entry.expires, review=review(scope, entry),
                )  # fmt: skip
        strangers: list[tuple[LiveUser, str]] = [(u, "") for u in resolution.unlisted_users]
        strangers += [
            (user, f"fits {entry.source}, invited: pin `userId:` to tell")
            for user, entry in resolution.shadowed
        ]
        for ambiguity in resolution.unresolved:
            fits = ", ".join(str(d.source) for d in ambiguity.desired)
            strangers += [
                (user, f"fits {fits} by masked address only") for user in ambiguity.candidates
            ]
        for user, note in strangers:
            role, raw = _role(user)
            yield Grant(
                scope, name, user.user_id, user.email, role=role, permissions=raw, note=note
            )
        for invitation in resolution.unlisted_invitations:
            if not invitation_is_pending(invitation):
                continue
            yield Grant(
                scope, name, None, invitation.email,
                role=invitation.role.value if invitation.role else None,
                state=_invitation_state(invitation, now),
            )  # fmt: skip


def _inherited_rows(desired: Desired, live: Live, now: float, review: ReviewOf) -> Iterable[Grant]:
    """A manager account's people reach each account linked to it. Until its people are
    read, one row per linked account names the manager account itself."""
    by_key = {m.key: m for m in desired.manager_accounts}
    for account in live.manager_accounts:
        wanted = by_key.get(account.id) or by_key.get(account.name)
        if wanted is None:
            continue
        for link in account.links:
            kind = LINK_KINDS.get(link.account_type.upper())
            if kind is None:
                continue
            listed = next((d for d in wanted.links if link.matches(d)), None)
            yield Grant(
                Scope(kind, link.dsp_advertiser_id or link.account_id),
                link.account_name,
                role=listed.role.value if listed is not None and listed.role else None,
                source=listed.source if listed is not None else None,
                via=f"manager account {account.name}",
                note="everyone on the manager account",
            )


# One producer per kind of account whose people are read: a kind is a row here.
PRODUCERS: tuple[Callable[[Desired, Live, float, ReviewOf], Iterable[Grant]], ...] = (
    _amc_rows,
    _inherited_rows,
)


def access(desired: Desired, live: Live, *, now: float, review: ReviewOf = _no_review) -> Access:
    """Every grant live on the accounts `desired` manages, sorted by account then person;
    and each managed account whose read may be missing some."""
    rows: list[Grant] = []
    for produce in PRODUCERS:
        rows.extend(produce(desired, live, now, review))
    scopes = [a.scope for a in desired.accounts]
    scopes += [Scope(ScopeKind.MANAGER, m.key) for m in desired.manager_accounts]
    incomplete = []
    for scope in scopes:
        reason = live.unreadable(scope)
        if reason is None and scope.kind is ScopeKind.AMC and live.reachable(scope) is None:
            reason = "not listed by GET /amc/accounts"
        if reason is not None:
            incomplete.append((scope, reason))
    key = _sort_key
    return Access(tuple(sorted(rows, key=key)), tuple(incomplete))


def _sort_key(grant: Grant) -> tuple[str, str, str, str, str]:
    return (
        grant.scope.kind.value,
        grant.scope.key,
        grant.via or "",
        canonical_email(grant.manifest_email or grant.email or ""),
        grant.user_id or "",
    )
