"""The sandbox's world: every account, link, user and invitation, and the clock.

`World` is the one mutable object in the sandbox (it is the fake that holds state). Records
inside it are frozen dataclasses replaced whole on change. All access goes through
`World.lock`; the request handler holds it for a whole request, so the sandbox is
thread-safe with one lock. Ids come from a counter stored in the state, so the same seed and
the same request sequence always produce the same ids.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Self

from reconciler.errors import ConfigError
from reconciler.model import KINDS, MARKETPLACE_REGION, Region, ScopeKind, canonical_email
from reconciler.sandbox import constants as c
from reconciler.sandbox.grants import countries_problem, normal, permissions_problem

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Advertiser:
    """An account that may be linked to a manager account (S-MA `Account`)."""

    account_id: str
    name: str
    account_type: str  # SELLER | VENDOR | DSP_ADVERTISING_ACCOUNT | MARKETING_CLOUD
    marketplace_id: str
    dsp_advertiser_id: str | None = None
    profile_id: str | None = None

    @property
    def region(self) -> Region:
        return MARKETPLACE_REGION[self.marketplace_id]


@dataclass(frozen=True, slots=True)
class Link:
    account_id: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Manager:
    manager_id: str
    name: str
    manager_type: str  # Advertiser | Agency
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, slots=True)
class Grant:
    """One permission set a user holds in some countries (S-UPM `RoleForCountries`)."""

    role: str | None  # ADMIN | EDITOR | VIEWER, as S-UPM spells it; None: a custom set
    permissions: tuple[str, ...] = ()  # a custom permission set's names
    countries: tuple[str, ...] = ()  # sponsored-ads only; none: the whole account


@dataclass(frozen=True, slots=True)
class AccountUser:
    """A user of an account of any kind. Its first grant is inline (`role`, or `permissions`
    with `role` ""; `countries`); a user of a sponsored-ads account may hold other permission
    sets in other countries (`more`), as QueryUserRoles can answer up to 5 (reference §5.1)."""

    user_id: str
    email: str
    role: str  # ADMIN | VIEWER | EDITOR, as S-UPM spells it; "" when a custom set
    permissions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    more: tuple[Grant, ...] = ()

    @property
    def grants(self) -> tuple[Grant, ...]:
        return (Grant(self.role or None, self.permissions, self.countries), *self.more)

    @property
    def admin(self) -> bool:
        return any(g.role == "ADMIN" for g in self.grants)

    def holding(self, grants: tuple[Grant, ...]) -> AccountUser:
        """This user with exactly `grants` (at least one)."""
        first, *rest = grants
        return replace(
            self,
            role=first.role or "",
            permissions=first.permissions,
            countries=first.countries,
            more=tuple(rest),
        )


@dataclass(frozen=True, slots=True)
class Invitation:
    invitation_id: str
    email: str
    name: str
    role: str  # as sent: `admin` / `viewer` (AMC), `ADMIN`... (others); "" for a custom set
    state: str  # PENDING | ACCEPTED | REVOKED (EXPIRED is computed from the clock)
    created_at: float  # epoch seconds
    expires_at: float  # epoch seconds
    created_by: str = "sandbox-user"
    permissions: tuple[str, ...] = ()  # a custom permission set's names
    countries: tuple[str, ...] = ()  # sponsored-ads only

    @property
    def grant(self) -> Grant:
        return Grant(self.role.upper() or None, self.permissions, self.countries)


@dataclass(frozen=True, slots=True)
class Account:
    """An account whose people the invitation and user-permission APIs serve: an AMC,
    sponsored-ads or DSP account, or the people of a manager account (`kind`)."""

    account_id: str
    name: str
    marketplace_id: str = ""
    users: tuple[AccountUser, ...] = ()
    invitations: tuple[Invitation, ...] = ()
    # The credentials reach this account with Viewer permission only: reads work, and every
    # write answers 401, as Amazon documents for Editor-only requests made with Viewer
    # permission (manager-accounts guide, reference §2.1). Seed: `viewer_only: true`.
    viewer_only: bool = False
    kind: ScopeKind = ScopeKind.AMC
    # Sponsored-ads and DSP accounts: the marketplaces they have a profile in (none: the US
    # one) and, for sponsored-ads, the profile type `seller` (default) or `vendor`
    # (`ops_profiles`).
    marketplaces: tuple[str, ...] = ()
    profile_type: str = ""

    def user(self, user_id: str) -> AccountUser | None:
        return next((u for u in self.users if u.user_id == user_id), None)


@dataclass(slots=True)
class Stats:
    """Counters for tests and benchmarks. Not persisted."""

    requests: Counter[str] = field(default_factory=Counter)  # by operationId
    throttled: int = 0  # 429s sent by the rate limiter or by p_429
    faults: Counter[str] = field(default_factory=Counter)  # by kind
    writes: int = 0  # writes applied (including those whose response a fault then lost)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "throttled": self.throttled,
            "faults": dict(self.faults),
            "writes": self.writes,
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    client_id: str
    expires_at: float


class World:
    """The whole emulated Amazon: build with `default`, `from_seed`, `from_seed_file`, `load`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.advertisers: dict[str, Advertiser] = {}
        self.managers: dict[str, Manager] = {}
        # The people of every account, by kind and id; a manager account's people sit here
        # beside its record in `managers` (created together).
        self.accounts: dict[ScopeKind, dict[str, Account]] = {kind: {} for kind in ScopeKind}
        # client id -> (client secret, refresh token)
        self.clients: dict[str, tuple[str, str]] = {
            c.SANDBOX_CLIENT_ID: (c.SANDBOX_CLIENT_SECRET, c.SANDBOX_REFRESH_TOKEN)
        }
        self.page_sizes: dict[str, int] = dict(c.PAGE_SIZE_CAPS)
        self.counter = 0
        self.seed_name = "sandbox"
        # Clock: `frozen_at` set -> time stands still there (tests); else real time. Both
        # plus `clock_offset`, which advance_clock grows.
        self.frozen_at: float | None = None
        self.clock_offset = 0.0
        # Access tokens are never persisted: a secret never lands in a file.
        self.tokens: dict[str, IssuedToken] = {}
        self.stats = Stats()

    @property
    def amc(self) -> dict[str, Account]:
        """The AMC accounts (`GET /amc/accounts` lists these)."""
        return self.accounts[ScopeKind.AMC]

    # -- construction (seeds: `reconciler.sandbox.world.World`) --------------------------
    @classmethod
    def load(cls, path: str | Path) -> Self:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{path}: cannot read the sandbox state ({exc}). "
                "Run `reconciler sandbox reset` to recreate it."
            ) from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ConfigError(
                f"{path}: not a sandbox state file of version {STATE_VERSION}. "
                "Run `reconciler sandbox reset` to recreate it."
            )
        world = cls()
        _from_snapshot(world, data)
        return world

    def save(self, path: str | Path) -> None:
        """Write the state as JSON: temp file in the same folder, fsync, `os.replace`, so a
        crash leaves either the old file or the new one, never a torn one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.snapshot(), indent=2, sort_keys=True) + "\n"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def snapshot(self) -> dict[str, Any]:
        """The full persistent state as JSON-able data (no tokens, no stats)."""
        with self.lock:
            data = {
                "version": STATE_VERSION,
                "seed_name": self.seed_name,
                "counter": self.counter,
                "frozen_at": self.frozen_at,
                "clock_offset": self.clock_offset,
                "page_sizes": dict(self.page_sizes),
                "clients": {k: list(v) for k, v in sorted(self.clients.items())},
                "advertisers": [asdict(a) for a in self.advertisers.values()],
                "manager_accounts": [self._manager_snapshot(m) for m in self.managers.values()],
                "amc_accounts": [asdict(a) for a in self.amc.values()],
                "ad_accounts": [
                    asdict(a)
                    for kind in (ScopeKind.SPONSORED_ADS, ScopeKind.DSP)
                    for a in self.accounts[kind].values()
                ],
            }
        # Through JSON and back: tuples become lists, so a snapshot equals a loaded file.
        result: dict[str, Any] = json.loads(json.dumps(data))
        return result

    def _manager_snapshot(self, manager: Manager) -> dict[str, Any]:
        data = asdict(manager)
        people = self.accounts[ScopeKind.MANAGER].get(manager.manager_id)
        if people is not None:
            data.update(
                users=[asdict(u) for u in people.users],
                invitations=[asdict(i) for i in people.invitations],
                viewer_only=people.viewer_only,
            )
        return data

    def replace_with(self, other: World) -> None:
        """Take over `other`'s persistent state (a reset of a running server)."""
        with self.lock:
            for name in (
                "advertisers",
                "managers",
                "accounts",
                "clients",
                "page_sizes",
                "counter",
                "seed_name",
                "frozen_at",
                "clock_offset",
            ):
                setattr(self, name, getattr(other, name))

    # -- clock and ids -----------------------------------------------------------------
    def now(self) -> float:
        base = self.frozen_at if self.frozen_at is not None else time.time()
        return base + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self.lock:
            self.clock_offset += seconds

    def freeze_clock(self, at: float | None = None) -> None:
        """Stop the clock at `at` (default: now), for tests that assert on times."""
        with self.lock:
            self.frozen_at = self.now() if at is None else at
            self.clock_offset = 0.0

    def next_id(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def mint_token(self, client_id: str) -> str:
        n = self.next_id()
        digest = hashlib.sha256(f"{self.seed_name}:{n}".encode()).hexdigest()[:16]
        token = f"{c.ACCESS_TOKEN_PREFIX}{digest}"
        self.tokens[token] = IssuedToken(client_id, self.now() + c.ACCESS_TOKEN_LIFETIME_S)
        return token

    # -- lookups -----------------------------------------------------------------------
    def find_advertiser(self, id_type: str, value: str) -> Advertiser | None:
        if id_type == "DSP_ADVERTISER_ID":
            return next(
                (a for a in self.advertisers.values() if a.dsp_advertiser_id == value), None
            )
        return self.advertisers.get(value)

    def invitation_state(self, inv: Invitation) -> str:
        if inv.state == c.STATE_PENDING and inv.expires_at <= self.now():
            return c.STATE_EXPIRED
        return inv.state

    def account(self, account_id: str, kind: ScopeKind | None = None) -> Account:
        """The account with this id (of `kind`, else of whichever kind has it); KeyError
        naming the problem when there is none, or when a bare id names two kinds."""
        kinds = [kind] if kind is not None else list(ScopeKind)
        found = [self.accounts[k][account_id] for k in kinds if account_id in self.accounts[k]]
        if not found:
            noun = KINDS[kind].noun if kind is not None else "account"
            raise KeyError(f"no {noun} {account_id!r} in the sandbox")
        if len(found) > 1:
            names = ", ".join(f"{a.kind.value}:{account_id}" for a in found)
            raise KeyError(f"{account_id!r} names {len(found)} accounts: say which ({names})")
        return found[0]

    def store(self, account: Account) -> None:
        self.accounts[account.kind][account.account_id] = account

    def add_account(
        self, kind: ScopeKind, account_id: str, name: str = "", *, viewer_only: bool = False
    ) -> Account:
        """A new account of `kind` with nobody on it (a manager account also gets its record
        in `managers`, an Agency with no links)."""
        with self.lock:
            if any(account_id in self.accounts[k] for k in ScopeKind):
                raise ValueError(f"the sandbox already has an account {account_id!r}")
            if not account_id.strip() or any(ch.isspace() for ch in account_id):
                raise ValueError(f"account id {account_id!r}: give an id without spaces")
            account = Account(account_id, name or account_id, viewer_only=viewer_only, kind=kind)
            if kind is ScopeKind.MANAGER:
                self.managers[account_id] = Manager(account_id, account.name, "Agency")
            self.store(account)
            return account

    def user_id_for(self, email: str) -> str:
        """The Amazon user id of the person with this address: the one they already hold on
        any account of the world (a user id is per person, reference §5.1), else a new one."""
        key = canonical_email(email)
        held = sorted(
            u.user_id
            for accounts in self.accounts.values()
            for account in accounts.values()
            for u in account.users
            if canonical_email(u.email) == key
        )
        return held[0] if held else f"amzn1.account.SANDBOX{self.next_id():06d}"

    # -- sandbox-only operations (out-of-band changes for demos and tests) -------------
    def accept_invitation(
        self, account_id: str, invitation_id: str, kind: ScopeKind | None = None
    ) -> str:
        """The invitee redeems: the invitation becomes a user with its permission set and
        countries, under the person's one user id. Returns that userId."""
        with self.lock:
            account = self.account(account_id, kind)
            inv = next((i for i in account.invitations if i.invitation_id == invitation_id), None)
            if inv is None or self.invitation_state(inv) != c.STATE_PENDING:
                state = "missing" if inv is None else self.invitation_state(inv)
                raise KeyError(
                    f"invitation {invitation_id!r} on {account_id} cannot be accepted "
                    f"(it is {state}; only PENDING invitations can)"
                )
            user_id = self.user_id_for(inv.email)
            invitations = tuple(
                replace(i, state=c.STATE_ACCEPTED) if i.invitation_id == invitation_id else i
                for i in account.invitations
            )
            user = AccountUser(user_id, inv.email, "").holding((inv.grant,))
            users = tuple(u for u in account.users if u.user_id != user_id)
            self.store(replace(account, users=(*users, user), invitations=invitations))
            return user_id

    def expire_invitation(
        self, account_id: str, invitation_id: str, kind: ScopeKind | None = None
    ) -> None:
        with self.lock:
            account = self.account(account_id, kind)
            if not any(i.invitation_id == invitation_id for i in account.invitations):
                raise KeyError(f"no invitation {invitation_id!r} on {account_id}")
            now = self.now()
            invitations = tuple(
                replace(i, expires_at=min(i.expires_at, now))
                if i.invitation_id == invitation_id
                else i
                for i in account.invitations
            )
            self.store(replace(account, invitations=invitations))

    def link(self, manager_account_id: str, account_id: str) -> None:
        with self.lock:
            manager = self._manager(manager_account_id)
            if account_id not in self.advertisers:
                raise KeyError(f"no linkable account {account_id!r} in the sandbox")
            if all(link.account_id != account_id for link in manager.links):
                links = (*manager.links, Link(account_id))
                self.managers[manager_account_id] = replace(manager, links=links)

    def unlink(self, manager_account_id: str, account_id: str) -> None:
        with self.lock:
            manager = self._manager(manager_account_id)
            links = tuple(x for x in manager.links if x.account_id != account_id)
            self.managers[manager_account_id] = replace(manager, links=links)

    def add_user(
        self,
        account_id: str,
        email: str,
        role: str | None,
        user_id: str | None = None,
        *,
        kind: ScopeKind | None = None,
        permissions: tuple[str, ...] = (),
        countries: tuple[str, ...] = (),
    ) -> str:
        """Give `email` a role or a custom set (and countries) on an account, as a console
        change would; the person's one user id unless `user_id` pins another."""
        with self.lock:
            account = self.account(account_id, kind)
            if role is not None and role.strip().upper() not in ("ADMIN", "VIEWER", "EDITOR"):
                raise ValueError(f"role {role.strip().upper()!r}: use admin, editor or viewer")
            grant = checked_grant(account.kind, role, permissions, countries)
            uid = user_id or self.user_id_for(email)
            users = tuple(u for u in account.users if u.user_id != uid)
            user = AccountUser(uid, email, "").holding((grant,))
            self.store(replace(account, users=(*users, user)))
            return uid

    def set_grant(
        self,
        account_id: str,
        user_id: str,
        role: str | None,
        *,
        kind: ScopeKind | None = None,
        permissions: tuple[str, ...] = (),
        countries: tuple[str, ...] = (),
        keep_other_countries: bool = False,
        keep_countries: bool = False,
    ) -> None:
        """Change a user's permission set, as a console change would: the user then holds
        exactly this set in these countries, or (`keep_other_countries`, sponsored-ads) this
        set in these countries and what they held in the others. With `keep_countries` and
        no countries given, a user holding one set keeps its countries (the console changes
        the permissions of a grant, not where it holds)."""
        with self.lock:
            account = self.account(account_id, kind)
            user = account.user(user_id)
            if user is None:
                raise KeyError(f"no user {user_id!r} on {account_id}")
            if keep_countries and not countries and len(user.grants) == 1:
                countries = user.grants[0].countries
            grant = checked_grant(account.kind, role, permissions, countries)
            grants: tuple[Grant, ...] = (grant,)
            if keep_other_countries:
                if not countries:
                    raise ValueError("--keep-other-countries needs the countries to change")
                others = tuple(
                    replace(g, countries=tuple(x for x in g.countries if x not in countries))
                    for g in user.grants
                )
                grants = (*(g for g in others if g.countries), grant)
            users = tuple(
                user.holding(grants) if u.user_id == user_id else u for u in account.users
            )
            self.store(replace(account, users=users))

    def set_countries(
        self,
        account_id: str,
        user_id: str,
        countries: tuple[str, ...],
        kind: ScopeKind | None = None,
    ) -> None:
        """Move a user's one permission set to other countries, as a console change would."""
        with self.lock:
            account = self.account(account_id, kind)
            user = account.user(user_id)
            if user is None:
                raise KeyError(f"no user {user_id!r} on {account_id}")
            if user.more:
                raise ValueError(
                    f"{user_id} holds {len(user.grants)} permission sets on {account_id}: "
                    "say which with set-role or set-permissions --countries"
                )
            (grant,) = user.grants
            self.set_grant(
                account.account_id,
                user_id,
                grant.role,
                kind=account.kind,
                permissions=grant.permissions,
                countries=countries,
            )

    def remove_user(self, account_id: str, user_id: str, kind: ScopeKind | None = None) -> None:
        with self.lock:
            account = self.account(account_id, kind)
            if account.user(user_id) is None:
                raise KeyError(f"no user {user_id!r} on {account_id}")
            users = tuple(u for u in account.users if u.user_id != user_id)
            self.store(replace(account, users=users))

    def _manager(self, manager_account_id: str) -> Manager:
        manager = self.managers.get(manager_account_id)
        if manager is None:
            raise KeyError(f"no manager account {manager_account_id!r} in the sandbox")
        return manager


def checked_grant(
    kind: ScopeKind, role: str | None, permissions: tuple[str, ...], countries: tuple[str, ...]
) -> Grant:
    """A grant made out of band (seed, `reconciler sandbox`): any of the three roles on any
    kind (the console can leave an AMC user with EDITOR, a role reconciler does not manage),
    custom sets and countries as the kind allows; ValueError naming the problem."""
    upper = role.strip().upper() if role is not None else None
    names = normal(permissions)
    if upper is not None and upper not in ("ADMIN", "EDITOR", "VIEWER"):
        raise ValueError(f"role {role!r}: use admin, editor or viewer")
    problem = None
    if (upper is None) == (not names):
        problem = "give a role or custom permissions, not both"
    else:
        found = (upper is None and permissions_problem(kind, names)) or countries_problem(
            kind, countries
        )
        problem = found.message if found else None
    if problem is not None:
        raise ValueError(problem)
    return Grant(upper, names, tuple(sorted(set(countries))))


def _user(data: Mapping[str, Any]) -> AccountUser:
    more = tuple(
        Grant(g.get("role"), tuple(g.get("permissions", ())), tuple(g.get("countries", ())))
        for g in data.get("more", ())
    )
    return AccountUser(
        str(data["user_id"]),
        str(data["email"]),
        str(data["role"]),
        tuple(data.get("permissions", ())),
        tuple(data.get("countries", ())),
        more,
    )


def _invitation(data: Mapping[str, Any]) -> Invitation:
    fields = dict(data)
    for key in ("permissions", "countries"):
        fields[key] = tuple(fields.get(key, ()))
    return Invitation(**fields)


def _account(kind: ScopeKind, x: Mapping[str, Any], *, name: str | None = None) -> Account:
    return Account(
        str(x.get("account_id", x.get("manager_id"))),
        str(x["name"] if name is None else name),
        str(x.get("marketplace_id", "")),
        tuple(_user(u) for u in x.get("users", ())),
        tuple(_invitation(i) for i in x.get("invitations", ())),
        bool(x.get("viewer_only", False)),
        kind,
        tuple(str(m) for m in x.get("marketplaces", ())),
        str(x.get("profile_type", "")),
    )


def _from_snapshot(world: World, data: Mapping[str, Any]) -> World:
    """Fill `world` from a snapshot; files written before accounts of other kinds than AMC
    were served (no `ad_accounts`, managers without people) load as they were."""
    world.seed_name = str(data.get("seed_name", "sandbox"))
    world.counter = int(data["counter"])
    world.frozen_at = data.get("frozen_at")
    world.clock_offset = float(data.get("clock_offset", 0.0))
    world.page_sizes.update({str(k): int(v) for k, v in data.get("page_sizes", {}).items()})
    world.clients = {str(k): (str(v[0]), str(v[1])) for k, v in data["clients"].items()}
    for a in data["advertisers"]:
        world.advertisers[a["account_id"]] = Advertiser(**a)
    for m in data["manager_accounts"]:
        links = tuple(Link(**x) for x in m["links"])
        world.managers[m["manager_id"]] = Manager(
            m["manager_id"], m["name"], m["manager_type"], links
        )
        world.store(_account(ScopeKind.MANAGER, m))
    for x in data["amc_accounts"]:
        world.store(_account(ScopeKind.AMC, x))
    for x in data.get("ad_accounts", ()):
        world.store(_account(ScopeKind(x["kind"]), x))
    return world
