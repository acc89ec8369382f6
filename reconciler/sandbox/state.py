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
from reconciler.model import MARKETPLACE_REGION, Region
from reconciler.sandbox import constants as c

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
class AmcUser:
    user_id: str
    email: str
    role: str  # ADMIN | VIEWER | EDITOR, as S-UPM spells it


@dataclass(frozen=True, slots=True)
class Invitation:
    invitation_id: str
    email: str
    name: str
    role: str  # as sent: `admin` / `viewer`
    state: str  # PENDING | ACCEPTED | REVOKED (EXPIRED is computed from the clock)
    created_at: float  # epoch seconds
    expires_at: float  # epoch seconds
    created_by: str = "sandbox-user"


@dataclass(frozen=True, slots=True)
class AmcAccount:
    account_id: str
    name: str
    marketplace_id: str
    users: tuple[AmcUser, ...] = ()
    invitations: tuple[Invitation, ...] = ()
    # The credentials reach this account with Viewer permission only: reads work, and every
    # write answers 401, as Amazon documents for Editor-only requests made with Viewer
    # permission (manager-accounts guide, reference §2.1). Seed: `viewer_only: true`.
    viewer_only: bool = False

    def user(self, user_id: str) -> AmcUser | None:
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
        self.amc: dict[str, AmcAccount] = {}
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
                "manager_accounts": [asdict(m) for m in self.managers.values()],
                "amc_accounts": [asdict(a) for a in self.amc.values()],
            }
        # Through JSON and back: tuples become lists, so a snapshot equals a loaded file.
        result: dict[str, Any] = json.loads(json.dumps(data))
        return result

    def replace_with(self, other: World) -> None:
        """Take over `other`'s persistent state (a reset of a running server)."""
        with self.lock:
            for name in (
                "advertisers",
                "managers",
                "amc",
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

    def _amc(self, amc_account_id: str) -> AmcAccount:
        account = self.amc.get(amc_account_id)
        if account is None:
            raise KeyError(f"no AMC account {amc_account_id!r} in the sandbox")
        return account

    # -- sandbox-only operations (out-of-band changes for demos and tests) -------------
    def accept_invitation(self, amc_account_id: str, invitation_id: str) -> str:
        """The invitee redeems: the invitation becomes a user. Returns the new userId."""
        with self.lock:
            account = self._amc(amc_account_id)
            inv = next((i for i in account.invitations if i.invitation_id == invitation_id), None)
            if inv is None or self.invitation_state(inv) != c.STATE_PENDING:
                state = "missing" if inv is None else self.invitation_state(inv)
                raise KeyError(
                    f"invitation {invitation_id!r} on {amc_account_id} cannot be accepted "
                    f"(it is {state}; only PENDING invitations can)"
                )
            user_id = self.add_user(amc_account_id, inv.email, inv.role)
            account = self._amc(amc_account_id)
            invitations = tuple(
                replace(i, state=c.STATE_ACCEPTED) if i.invitation_id == invitation_id else i
                for i in account.invitations
            )
            self.amc[amc_account_id] = replace(account, invitations=invitations)
            return user_id

    def expire_invitation(self, amc_account_id: str, invitation_id: str) -> None:
        with self.lock:
            account = self._amc(amc_account_id)
            if not any(i.invitation_id == invitation_id for i in account.invitations):
                raise KeyError(f"no invitation {invitation_id!r} on {amc_account_id}")
            now = self.now()
            invitations = tuple(
                replace(i, expires_at=min(i.expires_at, now))
                if i.invitation_id == invitation_id
                else i
                for i in account.invitations
            )
            self.amc[amc_account_id] = replace(account, invitations=invitations)

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
        self, amc_account_id: str, email: str, role: str, user_id: str | None = None
    ) -> str:
        with self.lock:
            account = self._amc(amc_account_id)
            role = role.strip().upper()
            if role not in ("ADMIN", "VIEWER", "EDITOR"):
                raise ValueError(f"role {role!r}: use admin or viewer")
            uid = user_id or f"amzn1.account.SANDBOX{self.next_id():06d}"
            users = tuple(u for u in account.users if u.user_id != uid)
            self.amc[amc_account_id] = replace(account, users=(*users, AmcUser(uid, email, role)))
            return uid

    def remove_user(self, amc_account_id: str, user_id: str) -> None:
        with self.lock:
            account = self._amc(amc_account_id)
            if account.user(user_id) is None:
                raise KeyError(f"no user {user_id!r} on {amc_account_id}")
            users = tuple(u for u in account.users if u.user_id != user_id)
            self.amc[amc_account_id] = replace(account, users=users)

    def _manager(self, manager_account_id: str) -> Manager:
        manager = self.managers.get(manager_account_id)
        if manager is None:
            raise KeyError(f"no manager account {manager_account_id!r} in the sandbox")
        return manager


def _from_snapshot(world: World, data: Mapping[str, Any]) -> World:
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
    for x in data["amc_accounts"]:
        users = tuple(AmcUser(**u) for u in x["users"])
        invitations = tuple(Invitation(**i) for i in x["invitations"])
        world.amc[x["account_id"]] = AmcAccount(
            x["account_id"],
            x["name"],
            x["marketplace_id"],
            users,
            invitations,
            bool(x.get("viewer_only", False)),
        )
    return world
