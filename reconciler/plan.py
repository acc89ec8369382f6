"""The plan: the contract between `plan` and `apply`.

A `Plan` is a frozen value holding every action in execution order, what is only waiting
(pending invitations, which are not changes), warnings and notes for people, the guards that
refuse it (`refusals`: a refused plan is complete and shown, never applied), the policy it was
made under, the `Live` snapshot it was computed from, and what binds it to its inputs
(`Bindings`): the digest of the desired state, the API identity, the tool version, the commit.

An `Action` is typed data: what it means (kind, account, target, role, region, the manager
account by id or by the name a create in the same plan gives it), never API wire JSON. The
request body is built from it in one place per family (`reconciler.actions`), and every view
of it (text, markdown, JSON, journal, apply report) is rendered from the same value.

Execution order: phase 0 creates, phase 1 grants,
phase 2 removals and demotions, so nobody is locked out halfway. Within a phase actions are
sorted by scope, then kind in `KIND_ORDER`, then target. The executor may batch consecutive
actions of one kind and scope; it never branches on `reason`, which is for people.

The plan file codec is `reconciler.planfile.codec`; the digests are `reconciler.planfile.digest`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum

from reconciler.model import (
    Grant,
    IdType,
    LinkRole,
    Live,
    ManagerAccountType,
    Region,
    Role,
    Scope,
    Source,
    amc_scope,
    manager_scope,
)

# The metadata of the `Action` fields that stay in the process that planned: never in a plan
# file nor in a digest (`planfile`), never read by the executor.
LOCAL = {"local": True}


class ActionKind(StrEnum):
    CREATE_MANAGER_ACCOUNT = "create-manager-account"
    ASSOCIATE = "associate"
    DISASSOCIATE = "disassociate"
    INVITE = "invite"
    REVOKE_INVITATION = "revoke-invitation"
    RESEND_INVITATION = "resend-invitation"
    REVOKE_USER = "revoke-user"
    SET_ROLE = "set-role"


# Order of kinds within one phase and scope. A re-issued invitation is revoked before the new
# one is sent (both in phase 1), so the API never sees two pending invitations for one person.
KIND_ORDER: tuple[ActionKind, ...] = (
    ActionKind.CREATE_MANAGER_ACCOUNT,
    ActionKind.ASSOCIATE,
    ActionKind.DISASSOCIATE,
    ActionKind.REVOKE_INVITATION,
    ActionKind.INVITE,
    ActionKind.RESEND_INVITATION,
    ActionKind.SET_ROLE,
    ActionKind.REVOKE_USER,
)
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
# The kinds that take a link or a person's access (or invitation) away: what the removal
# guards count, and what a summary lists after the grants.
REMOVING_KINDS: frozenset[ActionKind] = frozenset(
    {ActionKind.DISASSOCIATE, ActionKind.REVOKE_USER, ActionKind.REVOKE_INVITATION}
)

# The kinds that time alone makes necessary (an invitation that expired is sent again):
# never evidence that live moved away from what was applied.
TIME_KINDS: frozenset[ActionKind] = frozenset({ActionKind.RESEND_INVITATION})

PHASE_CREATE = 0
PHASE_GRANT = 1
PHASE_REMOVE = 2

# 2: typed actions (no wire payloads), bindings and the plan digest.
# 3: people on accounts of every kind: `account` is a typed address (`dsp:<id>`), grants
#    carry custom permission sets and countries.
# 4: `minAdmins` is keyed by typed address (`dsp:<id>`), since two kinds may share an id.
FORMAT_VERSION = 4


@dataclass(frozen=True, slots=True, order=True)
class ManagerRef:
    """A manager account an action is about: by its live `id`, or, when this plan creates
    it, by `name` alone (`id` None: the executor uses the id the create returns)."""

    name: str
    id: str | None = None

    @property
    def key(self) -> str:
        return self.id if self.id is not None else self.name


@dataclass(frozen=True, slots=True)
class Action:
    """One change to one target, as typed data.

    Which fields a kind uses is each family's contract (`reconciler.actions`), checked when
    a plan file is read (`reconciler.actions.check_action`):

    - create-manager-account: `manager` (name only), `manager_type`;
    - associate / disassociate: `manager`, `target` (the account id as sent), `id_type`,
      `region`; associate may carry `link_role`;
    - invite: `account`, `target` (the address, as sent), `user_name`, `role` or
      `permissions`, `countries`, `notify`;
    - revoke-invitation / resend-invitation: `account`, `target` (invitation id),
      `email` (the invitation's address), `role`, `notify` (resend);
    - set-role: `account`, `target` (userId), `role` or `permissions` (new) and
      `countries`, `old_role` / `old_permissions` / `old_countries` (held);
    - revoke-user: `account`, `target` (userId), `role` or `old_permissions` (held).

    `account` is the typed address of the account whose people change (any kind: the
    kind's facts in `KINDS` say which header names it).

    `label` is how people know the target where the typed fields do not say it (a linked
    account's live name, a user's masked address); `reason` is for people and cites manifest
    locations, so it is not part of the plan digest. Neither is ever sent.
    """

    kind: ActionKind
    phase: int
    target: str
    manager: ManagerRef | None = None
    account: Scope | None = None
    manager_type: ManagerAccountType | None = None
    id_type: IdType | None = None
    region: Region | None = None
    link_role: LinkRole | None = None
    role: Role | None = None
    old_role: Role | None = None
    email: str | None = None
    user_name: str | None = None
    permissions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    old_permissions: tuple[str, ...] = ()
    old_countries: tuple[str, ...] = ()
    notify: bool = False
    label: str = ""
    reason: str = field(default="", compare=False)
    # Where the action came from, for the workflows that invert the plan (`adopt`): the
    # manifest entry (a user entry, a `{group: G}` entry, a link) and, for a group entry,
    # the member (`DesiredUser.key`). Set by the planner only: like `reason` never part of
    # the digest, and unlike it never written into a plan file or read from one (a plan file
    # is untrusted; a field it holds under these names breaks the schema).
    origin: Source | None = field(default=None, compare=False, metadata=LOCAL)
    member: str | None = field(default=None, compare=False, metadata=LOCAL)

    @property
    def scope(self) -> Scope:
        """Derived, never stored: the manager account's id (or name, when created by this
        plan), or the AMC account."""
        if self.manager is not None:
            return manager_scope(self.manager.key)
        return self.account if self.account is not None else amc_scope("")

    @property
    def grant(self) -> Grant:
        """What this action gives (invite, set-role)."""
        return Grant(self.role, self.permissions, self.countries)

    @property
    def old_grant(self) -> Grant:
        """What the user held before (set-role, revoke-user)."""
        role = self.old_role if self.kind is ActionKind.SET_ROLE else self.role
        return Grant(role, self.old_permissions, self.old_countries)

    @property
    def sort_key(self) -> tuple[int, str, int, str]:
        return (self.phase, str(self.scope), _KIND_RANK[self.kind], self.target)

    @property
    def is_removal(self) -> bool:
        """Counted by the removal guards: a link or a person's access (or invitation) goes."""
        return self.phase == PHASE_REMOVE and self.kind in REMOVING_KINDS


# The fields every action has; the rest are typed fields that each kind uses or leaves unset
# (its family's contract, `reconciler.actions`).
COMMON_FIELDS = ("kind", "phase", "target", "notify", "label", "reason")


def typed_fields() -> tuple[str, ...]:
    """The typed fields of `Action` that a kind may use, in declaration order."""
    return tuple(
        f.name for f in fields(Action) if f.name not in COMMON_FIELDS and not is_local(f.name)
    )


def is_local(field_name: str) -> bool:
    """Whether an `Action` field stays in the process that planned (`origin`, `member`)."""
    return any(f.name == field_name and f.metadata.get("local") for f in fields(Action))


def json_name(field_name: str) -> str:
    """A field's name in a plan file: `user_name` -> `userName`."""
    head, *rest = field_name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A pending invitation that is already right: shown, but not a change."""

    account: Scope
    invitation_id: str
    email: str
    role: str
    expires_at: float | None = None

    @property
    def scope(self) -> Scope:
        return self.account


@dataclass(frozen=True, slots=True, order=True)
class Notice:
    """A warning or note for people, attached to a scope ("" for the whole plan)."""

    scope: str
    message: str


@dataclass(frozen=True, slots=True, order=True)
class Protected:
    """An entry of `policy.protectedUsers`: a userId, or an address (kept lower-case)."""

    who: str
    source: str  # "teams/policy.yaml:7"

    @property
    def is_address(self) -> bool:
        return "@" in self.who


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """An AMC account's own `policy:`: removal limits (None: the plan-wide value), and the
    email domains it allows besides the plan-wide `allowedEmailDomains`."""

    max_removal_fraction: float | None = None
    removal_floor: int | None = None
    source: str = ""  # where the account's `policy:` block is
    allowed_email_domains: tuple[str, ...] = ()


DEFAULT_SOURCE = "default"


@dataclass(frozen=True, slots=True, order=True)
class Pin:
    """A `userId:` pin proposed for a manifest entry that a live user fits by masked address
    only. `held` is the change kept back until the pin proves who it is ("viewer
    -> admin"), "" when the roles agree and nothing waits. `reconciler pin` writes `userId:
    <user_id>` into the entry at `file:line`."""

    account: Scope
    file: str
    line: int
    email: str
    user_id: str
    masked: str  # the live address as the API shows it
    held: str = ""

    @property
    def scope(self) -> Scope:
        return self.account


@dataclass(frozen=True, slots=True, order=True)
class Expiry:
    """An `expires:` entry that has passed (`expired`) or comes within
    `--expiring-within`. `target` is the userId or invitation id found live for an expired
    entry, which the plan removes unless its role is one reconciler does not manage ("" when
    nothing live was found)."""

    account: Scope
    who: str  # the entry's email, else its userId
    expires_at: float
    file: str
    line: int
    reason: str = ""  # the manifest's `reason:`
    expired: bool = False
    target: str = ""

    @property
    def scope(self) -> Scope:
        return self.account


class DriftClass(StrEnum):
    """What kind of drift one item is; see `reconciler.planning.drift`."""

    # An action, told apart by `--baseline REF` (the manifests known to be applied):
    CHANGED = "changed"  # proven: live differs from what REF applied too (a console change)
    UNAPPLIED = "unapplied"  # proven: only the manifests since REF ask for it
    DIFFERS = "differs"  # without a baseline: either of the two, not known which
    WAITING = "waiting-for-acceptance"
    INVITATION_EXPIRED = "invitation-expired"
    GRANT_EXPIRED = "grant-expired"
    EXPIRING_SOON = "expiring-soon"
    READ_INCOMPLETE = "read-incomplete"
    IDENTITY_UNRESOLVED = "identity-unresolved"
    # A change a safety rule keeps back: protectedUsers, or the last active admin.
    KEPT = "kept-back"
    # A live user whose role reconciler does not manage: listed; drift only when it breaks
    # the manifests (`OFF_POLICY`: a domain the policy does not allow, another role listed).
    UNMANAGED_ROLE = "unmanaged-role"
    OFF_POLICY = "unmanaged-role-off-policy"
    # `--baseline REF`: an account managed at REF and not now, whose people keep access.
    NO_LONGER_MANAGED = "no-longer-managed"


@dataclass(frozen=True, slots=True)
class Policy:
    """What the plan may do. Each guard-lifting flag is named after its CLI flag.

    Lifting a guard never makes the plan unsafe: `allow_incomplete` and `allow_unresolved`
    plan *without* the removals or changes they would have blocked (skipped and reported);
    `allow_fewer_admins` permits fewer active admins than `minAdmins` but never none.

    `sources` says where each setting that is not the default came from, keyed by its
    manifest name (`maxRemovals`, ...): a flag (`--max-removals`) or a manifest location
    (`teams/policy.yaml:4`); a setting absent from it is the default. It is for people and
    never changes what the plan does (`reconciler.planning.policy.effective` builds it).
    """

    max_removals: int = 10  # --max-removals, policy.maxRemovals
    max_removal_fraction: float = 0.25  # --max-removal-fraction, policy.maxRemovalFraction
    removal_floor: int = 2  # --removal-floor, policy.removalFloor
    resend_within_days: float = 3.0  # --resend-within
    now: float = 0.0  # UTC epoch seconds; makes the plan a pure function of its inputs
    allow_incomplete: bool = False  # --allow-incomplete
    allow_unresolved: bool = False  # --allow-unresolved
    allow_fewer_admins: bool = False  # --allow-fewer-admins
    protected_users: tuple[Protected, ...] = ()  # policy.protectedUsers
    allowed_email_domains: tuple[str, ...] = ()  # policy.allowedEmailDomains (checked by validate)
    admin_groups: tuple[str, ...] = ()  # policy.adminGroups (checked by validate)
    # AMC account id -> its own removal limits (policy: on the account)
    account_limits: Mapping[str, AccountLimits] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    expiring_within_days: float = 14.0  # --expiring-within: list `expires:` coming this soon

    def source(self, name: str) -> str:
        return self.sources.get(name, DEFAULT_SOURCE)

    def removal_limits(self, account: str | None) -> tuple[float, int, str]:
        """(fraction, floor, where they come from) for one scope."""
        fraction, floor = self.max_removal_fraction, self.removal_floor
        where = {self.source("maxRemovalFraction"), self.source("removalFloor")}
        own = self.account_limits.get(account or "")
        if own is not None:
            if own.max_removal_fraction is not None:
                fraction = own.max_removal_fraction
                where.discard(self.source("maxRemovalFraction"))
                where.add(own.source)
            if own.removal_floor is not None:
                floor = own.removal_floor
                where.discard(self.source("removalFloor"))
                where.add(own.source)
        if len(where) > 1:
            where.discard(DEFAULT_SOURCE)
        return fraction, floor, ", ".join(sorted(where))


@dataclass(frozen=True, slots=True, order=True)
class Refusal:
    """A guard that refuses the plan: the plan is still made and shown, never applied.

    `guard` names the rule, `scope` what it counted in ("" for the whole plan), `counted`
    and `limit` the numbers, `source` where the limit came from (`default`, `built in`, a
    flag, a manifest location), `lift` what lifts it, and `message` says it all in one
    sentence (what `GuardError` carries)."""

    scope: str
    guard: str
    counted: str
    limit: str
    source: str
    lift: str
    message: str


@dataclass(frozen=True, slots=True)
class Bindings:
    """What a plan was computed from, so that `apply --plan` can refuse a plan that is not
    the plan of what it is given. Nothing here is secret.

    `desired_digest`: the meaning of the manifests (`planfile.digest.desired_digest`), not
    their bytes or layout. `api_identity`: the client id and API hosts (`ApiIdentity.text`).
    `commit`: where the manifests came from, when it can be found (CI variables or git)."""

    desired_digest: str = ""
    api_identity: str = ""
    tool_version: str = ""
    commit: str | None = None


@dataclass(frozen=True, slots=True)
class Baseline:
    """`--baseline REF`: the manifests at `ref` (resolved to `commit`), known to
    be applied, planned against the same read under the same policy. `keys` are the
    (scope, target) pairs (`reconciler.actions.drift_key`) of this plan's actions that the
    baseline plan has an action on too: there live differs from what was applied, so the
    change happened behind git's back. `unsure` are the scopes of this plan's actions where
    the baseline plan held a change back for want of proof of identity, or could not
    restore a user: there an action the baseline does not share may still be a console
    change, and is not called unapplied. For display only, like reasons: not part of the
    plan digest, never read by the executor."""

    ref: str
    commit: str
    keys: frozenset[tuple[str, str]] = frozenset()
    unsure: frozenset[str] = frozenset()
    # Accounts the manifests at REF manage and today's do not: their people keep access
    # and nothing watches them any more (drift).
    dropped: tuple[Notice, ...] = ()
    # What the policy changed since REF, a loosening marked as such.
    policy_changes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class Covered:
    """One account a plan made with `--changed-since REF` covers: `scope` (`amc:<id>`, or
    `manager:<id or name>` as the manifests key it) and `why` it is in (what changed in
    the manifests since REF, for people). `leaving`: in the manifests at REF and no longer,
    so it leaves management: nothing is read or changed there."""

    scope: str
    why: tuple[str, ...] = ()
    leaving: bool = False


@dataclass(frozen=True, slots=True)
class Coverage:
    """`--changed-since REF`: the plan covers exactly `accounts`, those whose desired state
    differs between the manifests at `commit` (`ref` as given) and now; every other account
    was neither read nor planned. Part of the plan digest (`planfile.digest.plan_digest`):
    `apply --plan` re-reads and re-plans exactly these. A plan without one covers
    everything the manifests manage."""

    ref: str
    commit: str
    accounts: tuple[Covered, ...] = ()

    @property
    def planned(self) -> frozenset[str]:
        """The scopes read and planned (those leaving management are neither)."""
        return frozenset(a.scope for a in self.accounts if not a.leaving)


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...] = ()
    waiting: tuple[Waiting, ...] = ()
    warnings: tuple[Notice, ...] = ()
    notes: tuple[Notice, ...] = ()
    live: Live = field(default_factory=Live)
    policy: Policy = field(default_factory=Policy)
    created_at: float = 0.0
    files: tuple[str, ...] = ()
    bindings: Bindings = field(default_factory=Bindings)
    # Account (`str(scope)`, `kind:id`) -> its `minAdmins`: the executor keeps at least
    # that many admins (or as many as there were) whatever fails on the way
    # (`reconciler.apply.executor`).
    min_admins: Mapping[str, int] = field(default_factory=dict)
    # Guards that refuse this plan: it is shown in full, and never applied.
    refusals: tuple[Refusal, ...] = ()
    # Identity: proposed pins; changes held back until identity is proven (a
    # candidate whose role differs, masked users that cannot be told apart); manifest
    # entries whose live user is gone and that cannot be restored (no `email:` to invite).
    pins: tuple[Pin, ...] = ()
    held: tuple[Notice, ...] = ()
    unrestorable: tuple[Notice, ...] = ()
    # Scopes whose read failed or may be incomplete, skipped under --allow-incomplete.
    unread: tuple[Notice, ...] = ()
    # `expires:` entries past or coming within --expiring-within.
    expiries: tuple[Expiry, ...] = ()
    # `--baseline REF`: what tells a console change from a manifest change not applied yet.
    baseline: Baseline | None = None
    # `--changed-since REF`: the accounts this plan covers (None: all the manifests manage).
    coverage: Coverage | None = None
    # Changes a safety rule keeps back (a protected user, an account's last active admin):
    # drift, never "in sync".
    kept: tuple[Notice, ...] = ()
    # Live users whose role reconciler does not manage: as the manifests allow (listed, not
    # drift), and against them (a domain `allowedEmailDomains` does not allow, or an entry
    # that lists them with another role: drift).
    unmanaged: tuple[Notice, ...] = ()
    off_policy: tuple[Notice, ...] = ()
    format_version: int = FORMAT_VERSION

    @property
    def refused(self) -> bool:
        return bool(self.refusals)

    @property
    def is_empty(self) -> bool:
        """No change to make. Waiting invitations, warnings and notes are not changes."""
        return not self.actions

    @property
    def in_sync(self) -> bool:
        """Live state is what the manifests say: nothing to do, nothing held back for want of
        proof, nothing that cannot be restored. `drift` exits 2 unless this holds."""
        return not (
            self.actions
            or self.held
            or self.unrestorable
            or self.unread
            or self.kept
            or self.off_policy
            or (self.baseline is not None and self.baseline.dropped)
        )

    @property
    def scopes_touched(self) -> tuple[Scope, ...]:
        return tuple(sorted({action.scope for action in self.actions}))

    def summary(self) -> dict[ActionKind, int]:
        """Counts by kind, in `KIND_ORDER`, kinds with no action left out."""
        counts = Counter(action.kind for action in self.actions)
        return {kind: counts[kind] for kind in KIND_ORDER if counts[kind]}


def sort_actions(actions: list[Action]) -> tuple[Action, ...]:
    return tuple(sorted(actions, key=lambda action: action.sort_key))


def day(epoch: float) -> str:
    """An `expires:` moment as written: the date alone when it is 00:00 UTC (a bare date).
    Total, like `when`."""
    try:
        moment = datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return when(epoch)
    if moment.hour == moment.minute == moment.second == 0:
        return moment.date().isoformat()  # strftime's %Y drops a leading zero: 1-01-01
    return when(epoch)


def when(epoch: float) -> str:
    """A time for people. Total: a time from a file that no calendar holds (NaN, 1e300) is
    said to be so, never a traceback."""
    try:
        moment = datetime.fromtimestamp(epoch, UTC)
        return f"{moment.date().isoformat()} {moment:%H:%M} UTC"
    except (OverflowError, OSError, ValueError):
        return f"an impossible time ({epoch!r})"
