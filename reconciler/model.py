"""The values that flow through the pipeline: what the manifests want (`Desired`) and what the
Amazon Ads API has (`Live`).

Everything here is immutable: frozen dataclasses holding tuples. A stage returns new values
and never changes its input. Collections are kept in a canonical order (see each `sorted_*`
helper) so that equal worlds compare equal and plans come out in a stable order.

Identity rules:
- manager account: `id` when pinned, else `name` (exact, case-sensitive);
- linked account: (`id_type`, `id`);
- an account's people (any kind: manager, sponsored-ads, DSP, AMC): (`kind`, `id`);
- a person on one: `user_id` when pinned, else the email compared case-insensitively.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Region(StrEnum):
    """Amazon Ads API regions; each has its own host (reference §1.1)."""

    NA = "NA"
    EU = "EU"
    FE = "FE"


# Marketplace id -> region. Used to place live linked accounts, whose region the API only
# reveals through `marketplaceId` and the host that returned them (reference §1.1).
MARKETPLACE_REGION: dict[str, Region] = {
    # NA: US, CA, MX, BR
    "ATVPDKIKX0DER": Region.NA,
    "A2EUQ1WTGCTBG2": Region.NA,
    "A1AM78C64UM0Y8": Region.NA,
    "A2Q3Y263D00KWC": Region.NA,
    # EU: UK, FR, IT, ES, DE, NL, AE, PL, TR, EG, SA, SE, BE, IN, ZA
    "A1F83G8C2ARO7P": Region.EU,
    "A13V1IB3VIYZZH": Region.EU,
    "APJ6JRA9NG5V4": Region.EU,
    "A1RKKUPIHCS9HS": Region.EU,
    "A1PA6795UKMFR9": Region.EU,
    "A1805IZSGTT6HS": Region.EU,
    "A2VIGQ35RCS4UG": Region.EU,
    "A1C3SOZRARQ6R3": Region.EU,
    "A33AVAJ2PDY3EV": Region.EU,
    "ARBP9OOSHTCHU": Region.EU,
    "A17E79C6D8DWNP": Region.EU,
    "A2NODRKZP88ZB9": Region.EU,
    "AMEN7PMS3EDWL": Region.EU,
    "A21TJRUUN4KGV": Region.EU,
    "AE08WJ6YKNBMC": Region.EU,
    # FE: JP, AU, SG
    "A1VC38T7YXB528": Region.FE,
    "A39IBJ37TRP1C6": Region.FE,
    "A19VAU5U5O7RUS": Region.FE,
}


class IdType(StrEnum):
    """How a linked account is named in associate/disassociate (`AccountToUpdate.type`)."""

    ACCOUNT_ID = "ACCOUNT_ID"
    DSP_ADVERTISER_ID = "DSP_ADVERTISER_ID"


class LinkRole(StrEnum):
    """`AccountRelationshipRole` (reference §2.4). Only one role per call is supported."""

    ENTITY_OWNER = "ENTITY_OWNER"
    ENTITY_USER = "ENTITY_USER"
    ENTITY_VIEWER = "ENTITY_VIEWER"
    SELLER_USER = "SELLER_USER"


class ManagerAccountType(StrEnum):
    """`managerAccountType`, title-case exactly as the API wants it (reference §2.3)."""

    ADVERTISER = "Advertiser"
    AGENCY = "Agency"


def canonical_email(address: str) -> str:
    """The one form every comparison of addresses uses: surrounding space trimmed, Unicode
    NFC, lower case. Decision: `lower()`, not `casefold()`: casefold maps `ß` to `ss` and
    would make two different mailboxes one. Display keeps the address as written.

    A character that NFC or `lower()` would turn into an ASCII one (the Kelvin sign into
    `k`) is a look-alike, not that letter: an address holding one keeps its non-ASCII
    characters as they are (only ASCII lower-cased), so it never equals an ASCII address."""
    text = address.strip()
    if text.isascii():
        return text.lower()
    if any(not char.isascii() and any(c.isascii() for c in _folded(char)) for char in set(text)):
        return "".join(char.lower() if char.isascii() else char for char in text)
    return _folded(text)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower()


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """Where a desired object was written: shown in plan reasons and error messages."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# --------------------------------------------------------------------------------------------
# Desired: what the manifests ask for, normalised (defaults filled, groups expanded).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesiredLink:
    id: str
    id_type: IdType = IdType.ACCOUNT_ID
    region: Region = Region.NA
    role: LinkRole | None = None  # None: let Amazon pick its default for the account type
    source: Source | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.id_type.value, self.id)


@dataclass(frozen=True, slots=True)
class DesiredManagerAccount:
    name: str
    id: str | None = None
    type: ManagerAccountType | None = None
    prune: bool = True
    links: tuple[DesiredLink, ...] = ()
    source: Source | None = field(default=None, compare=False)
    links_at: Source | None = field(default=None, compare=False)  # the `linkedAccounts:` key

    @property
    def key(self) -> str:
        """Identity: the pinned id, else the name."""
        return self.id if self.id is not None else self.name


@dataclass(frozen=True, slots=True)
class Grant:
    """A role or a custom permission set (names), and the countries it holds in (none: the
    whole account). Exactly one of `role` and `permissions`; canonical: names and countries
    sorted, without repeats."""

    role: Role | None = None
    permissions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def __str__(self) -> str:
        """How people read it: `viewer`, `custom [campaign_edit, reports_view] in CA, US`."""
        text = (
            self.role.value if self.role is not None else f"custom [{', '.join(self.permissions)}]"
        )
        return f"{text} in {', '.join(self.countries)}" if self.countries else text


def shown(grant: Grant | None, raw: tuple[str, ...] = ()) -> str:
    """A live grant as people read it; one that was not read exactly, as Amazon said it."""
    return str(grant) if grant is not None else "/".join(raw) or "unknown"


@dataclass(frozen=True, slots=True)
class DesiredUser:
    """One person's access to one account of any kind. Exactly one of `email`/`user_id` is
    the identity: `user_id` when pinned (the email is then optional and only a label). The
    access is `role`, or a custom `permissions` set (kinds that take one), in `countries`
    (sponsored-ads accounts only; none: the whole account)."""

    role: Role | None
    email: str | None = None
    user_id: str | None = None
    name: str = ""
    group: str | None = None  # the group this entry came from, for reasons only
    # `notUserIds`: live users this entry is known not to be, though their masked address
    # fits (`a***@corp.example` is andrew, not alice). They are never its candidates.
    not_user_ids: frozenset[str] = frozenset()
    source: Source | None = field(default=None, compare=False)
    # Where a `userId:` for this person belongs: the entry itself, or the group member entry
    # it came from (a userId is the same Amazon user in every account).
    pin_at: Source | None = field(default=None, compare=False)
    # `expires:` as UTC epoch seconds: from that moment the entry counts as
    # absent (its live user or invitation is removed, it is never invited). `expiry_reason`
    # is the optional `reason:`; `expires_source` where the `expires:` was written.
    expires: float | None = None
    expiry_reason: str | None = None
    expires_source: Source | None = field(default=None, compare=False)
    # `reviewed:` as UTC epoch seconds (the latest of the entry's, the group entry's and the
    # member's), and where it is written; for access reviews only, never for the plan.
    reviewed: float | None = field(default=None, compare=False)
    reviewed_source: Source | None = field(default=None, compare=False)
    permissions: tuple[str, ...] = ()  # sorted
    countries: tuple[str, ...] = ()  # sorted

    @property
    def grant(self) -> Grant:
        return Grant(self.role, self.permissions, self.countries)

    def expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now

    @property
    def who(self) -> str:
        """How people read the entry: its address as written, else its userId."""
        return self.email or self.user_id or "?"

    @property
    def key(self) -> str:
        if self.user_id is not None:
            return self.user_id
        assert self.email is not None
        return canonical_email(self.email)


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    """An account's own `policy:`: removal limits for it alone, and the email domains it
    adds to the top-level `allowedEmailDomains` (a client's own domains)."""

    max_removal_fraction: float | None = None
    removal_floor: int | None = None
    allowed_email_domains: tuple[str, ...] = ()
    source: Source | None = field(default=None, compare=False)
    review_every: float | None = None  # `reviewEvery:` in days


@dataclass(frozen=True, slots=True)
class DesiredAccount:
    """The people of one account of any `kind` (the `users:` of an AMC account, a manager
    account or an ad account): one shape for every kind, whose differences are `KINDS`."""

    id: str
    name: str | None = None
    prune: bool = True
    notify: bool = True
    min_admins: int = 1
    users: tuple[DesiredUser, ...] = ()
    source: Source | None = field(default=None, compare=False)
    policy: AccountPolicy | None = None
    users_at: Source | None = field(default=None, compare=False)  # the `users:` key
    owners: tuple[str, ...] = field(default=(), compare=False)  # who reviews its access
    kind: ScopeKind = field(default_factory=lambda: ScopeKind.AMC)

    @property
    def scope(self) -> Scope:
        return Scope(self.kind, self.id)

    @property
    def noun(self) -> str:
        """`AMC account amc1`, `manager account amzn1.ads1.ma1.x`."""
        return f"{KINDS[self.kind].noun} {self.id}"


@dataclass(frozen=True, slots=True)
class DesiredPolicy:
    """The top-level `policy:` block (once across all files); None / () where unset.

    `sources` holds where each setting is written, by its manifest name, and each protected
    user's entry as `protectedUsers/<who>`."""

    max_removals: int | None = None
    max_removal_fraction: float | None = None
    removal_floor: int | None = None
    allowed_email_domains: tuple[str, ...] = ()  # lower-case
    protected_users: tuple[str, ...] = ()  # userIds, and addresses lower-case
    admin_groups: tuple[str, ...] = ()
    review_every: float | None = None  # `reviewEvery:` in days: access reviews
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False)
    # The admin groups' members (canonical addresses): who may be an admin by address.
    admin_members: frozenset[str] = field(default=frozenset(), compare=False)


@dataclass(frozen=True, slots=True)
class Desired:
    manager_accounts: tuple[DesiredManagerAccount, ...] = ()
    accounts: tuple[DesiredAccount, ...] = ()
    files: tuple[str, ...] = ()  # the manifest files this was loaded from, in load order
    policy: DesiredPolicy = field(default_factory=DesiredPolicy)
    # Each group's members as written (role unused: a group entry gives the role), for
    # edits of the group itself (`adopt --expiring`), used by an account or not.
    groups: Mapping[str, tuple[DesiredUser, ...]] = field(default_factory=dict, compare=False)


# --------------------------------------------------------------------------------------------
# Live: what the API returned, for the scopes the manifests manage.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveLink:
    """A linked account as `GET /managerAccounts` shows it on one regional host.

    The API does not return the relationship role, so a role in the manifest is applied on
    associate but cannot be verified afterwards."""

    account_id: str
    account_type: str  # SELLER | VENDOR | DSP_ADVERTISING_ACCOUNT | MARKETING_CLOUD
    region: Region
    account_name: str = ""
    marketplace_id: str = ""
    dsp_advertiser_id: str | None = None
    profile_id: str | None = None

    def matches(self, link: DesiredLink) -> bool:
        if link.id_type is IdType.DSP_ADVERTISER_ID:
            return self.dsp_advertiser_id == link.id
        return self.account_id == link.id


@dataclass(frozen=True, slots=True)
class LiveManagerAccount:
    id: str
    name: str
    links: tuple[LiveLink, ...] = ()  # merged over the regions read, sorted
    regions_read: frozenset[Region] = frozenset()
    # Regions whose list came back with exactly 50 links: possibly truncated by Amazon.
    truncated_regions: frozenset[Region] = frozenset()


@dataclass(frozen=True, slots=True)
class LiveUser:
    """An active user of an account (`POST /users/list` + `POST /userRoles/list`).
    `email` is as the API returns it: masked, e.g. `a***@example.com`. `grant` is what the
    user holds when it was read exactly (one role or one custom set, over its countries);
    None when it cannot be said exactly (a role the kind does not take, roles that differ
    by country, an unreadable set): such a user is shown as `raw_roles` and never changed."""

    user_id: str
    email: str
    role: Role | None  # the grant's role; None for a custom set or an unreadable grant
    raw_roles: tuple[str, ...] = ()
    grant: Grant | None = None

    @property
    def shown(self) -> str:
        return shown(self.grant, self.raw_roles)


@dataclass(frozen=True, slots=True)
class LiveInvitation:
    """A pending (or expired, not yet accepted) invitation. Emails here are not masked.
    Times are UTC epoch seconds, normalised by the reader whatever unit the API used."""

    invitation_id: str
    email: str
    name: str
    role: Role | None
    state: str  # opaque; compared case-insensitively (reference §4.7)
    created_at: float | None = None
    expires_at: float | None = None
    grant: Grant | None = None  # what accepting it grants, when read exactly

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class LiveAccount:
    id: str
    name: str = ""
    reachable: bool = True  # listed by `GET /amc/accounts`
    users: tuple[LiveUser, ...] = ()
    invitations: tuple[LiveInvitation, ...] = ()
    kind: ScopeKind = field(default_factory=lambda: ScopeKind.AMC)

    @property
    def scope(self) -> Scope:
        return Scope(self.kind, self.id)


class ScopeKind(StrEnum):
    """A kind of account: the first half of an account's typed address (`Scope`)."""

    MANAGER = "manager"
    SPONSORED_ADS = "sponsored-ads"
    DSP = "dsp"
    AMC = "amc"


class Role(StrEnum):
    """A role on an account of any kind. The user-permission API spells these ADMIN,
    EDITOR, VIEWER; AMC invitations spell them lower-case (reference §4.2, §5). `from_api`
    normalises both."""

    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"

    @classmethod
    def from_api(cls, value: str) -> Role | None:
        """Any casing of a role to the role; None for anything else (a custom set)."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class KindFacts:
    """What differs between kinds of account, as the invitation and user-permission APIs
    serve them (reference §4.1, §4.2, §5.1): one row per kind, read by the planner, the
    validator, the client and the sandbox; nothing else branches on a kind's name."""

    kind: ScopeKind
    noun: str  # how people read it: "manager account"
    header: str  # the request header that names the account
    roles: tuple[Role, ...]  # the roles it accepts
    permissions: tuple[str, ...]  # the custom permission names it accepts (none: roles only)
    countries: bool  # whether a grant names countries (global sponsored-ads accounts only)
    invitation_role_case: str  # "lower" (AMC's guide spells admin/viewer) or "upper"
    # The listing that says which accounts of this kind the credentials reach (`GET
    # /amc/accounts`), "" when none: then an account is read straight away, and a read that
    # fails marks it incomplete.
    listing: str = ""


# S-UPM's `CountryCode` (reference §5): the countries a sponsored-ads grant may name.
COUNTRY_CODES: frozenset[str] = frozenset(
    {"AE", "AU", "BE", "BR", "CA", "CL", "CO", "DE", "EG", "ES", "FR", "GB", "IE"}
    | {"IN", "IT", "JP", "MX", "NG", "NL", "PL", "SA", "SE", "SG", "TR", "US", "ZA"}
)
ACCOUNT_HEADER = "Amazon-Ads-AccountId"
MANAGER_ACCOUNT_HEADER = "Amazon-Ads-ManagerAccountId"
_ALL_ROLES = (Role.ADMIN, Role.EDITOR, Role.VIEWER)

KINDS: Mapping[ScopeKind, KindFacts] = MappingProxyType(
    {
        ScopeKind.MANAGER: KindFacts(
            kind=ScopeKind.MANAGER,
            noun="manager account",
            header=MANAGER_ACCOUNT_HEADER,
            roles=_ALL_ROLES,
            permissions=(),
            countries=False,
            invitation_role_case="upper",
        ),
        ScopeKind.SPONSORED_ADS: KindFacts(
            kind=ScopeKind.SPONSORED_ADS,
            noun="sponsored-ads account",
            header=ACCOUNT_HEADER,
            roles=_ALL_ROLES,
            permissions=(
                "campaign_edit",
                "campaign_view",
                "reports_view",
                "brand_posts_edit",
                "store_edit",
                "payment_method_edit",
                "payment_method_view",
                "billing_edit",
                "billing_view",
                "user_edit",
            ),
            countries=True,
            invitation_role_case="upper",
        ),
        ScopeKind.DSP: KindFacts(
            kind=ScopeKind.DSP,
            noun="DSP account",
            header=ACCOUNT_HEADER,
            roles=_ALL_ROLES,
            permissions=("campaign_edit", "creatives_edit", "reports_edit", "reports_limited"),
            countries=False,
            invitation_role_case="upper",
        ),
        # [UNK] reference §4.2: whether AMC invitations accept ADMIN/VIEWER upper-case; the
        # AMC guide's lower-case is what is sent.
        ScopeKind.AMC: KindFacts(
            kind=ScopeKind.AMC,
            noun="AMC account",
            header=ACCOUNT_HEADER,
            roles=(Role.ADMIN, Role.VIEWER),
            permissions=(),
            countries=False,
            invitation_role_case="lower",
            listing="GET /amc/accounts",
        ),
    }
)


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """What one part of a plan or a read is about: one manager account (by live id, or by
    name when this plan creates it) or one AMC account (by id). `key` "*" stands for every
    account of its kind (a whole read failed). Written `manager:<key>` / `amc:<key>`."""

    kind: ScopeKind
    key: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.key}"

    @property
    def is_manager(self) -> bool:
        return self.kind is ScopeKind.MANAGER

    @property
    def wildcard(self) -> Scope:
        return Scope(self.kind, "*")

    @classmethod
    def parse(cls, text: str) -> Scope:
        """`<kind>:<key>` (`manager:`, `sponsored-ads:`, `dsp:`, `amc:`); ValueError for
        anything else."""
        kind, sep, key = text.partition(":")
        if not sep or not key:
            raise ValueError(f"not a scope: {text!r} (want manager:<id> or amc:<id>)")
        return cls(ScopeKind(kind), key)


@dataclass(frozen=True, slots=True, order=True)
class Incomplete:
    """A scope whose live read may be missing something. The planner plans no removal in it.

    `reason` is for people."""

    scope: Scope
    reason: str


@dataclass(frozen=True, slots=True)
class Live:
    manager_accounts: tuple[LiveManagerAccount, ...] = ()
    accounts: tuple[LiveAccount, ...] = ()
    incomplete: tuple[Incomplete, ...] = ()
    regions_read: frozenset[Region] = frozenset()
    read_at: float = 0.0  # UTC epoch seconds when the read started

    def reachable_amc(self, account_id: str | None) -> LiveAccount | None:
        """The AMC account with this id, if the read reached it."""
        return self.reachable(amc_scope(account_id or ""))

    def reachable(self, scope: Scope | None) -> LiveAccount | None:
        """The people of the account at `scope` (any kind), if the read reached it."""
        return next((a for a in self.accounts if a.scope == scope and a.reachable), None)

    def incomplete_reason(self, scope: Scope) -> str | None:
        """Why this one scope was marked incomplete by the reader (exact match only)."""
        for item in self.incomplete:
            if item.scope == scope:
                return item.reason
        return None

    def unreadable(self, scope: Scope) -> str | None:
        """The one answer to "may the read of `scope` be missing something?": the reason, or
        None when it is complete. Covers the scope itself, a failed read of every account of
        its kind (`manager:*`, `amc:*`), an AMC account that is not reachable, and a manager
        account whose linked-account list came back with exactly 50 entries in a region
        (Amazon truncates there, reference §2.2) even if the reader forgot to mark it."""
        for key in (scope, scope.wildcard):
            reason = self.incomplete_reason(key)
            if reason is not None:
                return reason
        if scope.is_manager:
            for account in self.manager_accounts:
                if account.id == scope.key and account.truncated_regions:
                    regions = ", ".join(sorted(r.value for r in account.truncated_regions))
                    return (
                        f"the linked-account list came back with exactly 50 entries in "
                        f"{regions} and may be truncated"
                    )
        return None


def manager_scope(account_id_or_name: str) -> Scope:
    return Scope(ScopeKind.MANAGER, account_id_or_name)


def amc_scope(account_id: str) -> Scope:
    return Scope(ScopeKind.AMC, account_id)
