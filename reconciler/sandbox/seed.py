"""Build a `World` from a seed: a YAML mapping whose format `examples/sandbox-seed.yaml`
documents. Every problem in a seed is reported at once, each with its place in the file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import ConfigError
from reconciler.model import MARKETPLACE_REGION, ScopeKind
from reconciler.sandbox import constants as c
from reconciler.sandbox.grants import invitation_roles
from reconciler.sandbox.ops_profiles import MARKETPLACES
from reconciler.sandbox.state import (
    Account,
    AccountUser,
    Advertiser,
    Grant,
    Invitation,
    Link,
    Manager,
    World,
    checked_grant,
)

ACCOUNT_TYPES = ("SELLER", "VENDOR", "DSP_ADVERTISING_ACCOUNT", "MARKETING_CLOUD")
AD_ACCOUNT_TYPES = (ScopeKind.SPONSORED_ADS.value, ScopeKind.DSP.value)
MANAGER_TYPES = ("Advertiser", "Agency")
DAY = 24 * 3600


def default_seed() -> dict[str, Any]:
    text = resources.files("reconciler.sandbox").joinpath("default_seed.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def load_seed_file(world: World, path: Path) -> World:
    apply_seed(world, read_seed(path), source=str(path))
    return world


def read_seed(path: Path) -> dict[str, Any]:
    """The seed file's data, or ConfigError naming the file and the problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the seed file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a seed is a YAML mapping; see examples/sandbox-seed.yaml")
    return data


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _str(data: Mapping[str, Any], key: str, where: str, p: _Problems, *, default: Any = ...) -> str:
    value = data.get(key, default)
    if value is ...:
        p.add(where, f"`{key}` is required")
        return ""
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        p.add(where, f"`{key}` must be a string, not {type(value).__name__}")
        return ""
    return str(value)


def _list(data: Mapping[str, Any], key: str, where: str, p: _Problems) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        p.add(where, f"`{key}` must be a list")
        return []
    return value


def _mapping(item: Any, where: str, p: _Problems) -> Mapping[str, Any] | None:
    if not isinstance(item, dict):
        p.add(where, "must be a mapping")
        return None
    return item


def apply_seed(world: World, data: Mapping[str, Any], *, source: str) -> None:
    """Fill an empty `world` from seed `data`; raise ConfigError listing every problem."""
    p = _Problems()
    world.seed_name = _str(data, "name", source, p, default="sandbox") or "sandbox"
    clock = data.get("clock") or {}
    if isinstance(clock, dict) and clock.get("frozen_at") is not None:
        world.frozen_at = float(clock["frozen_at"])
    for op, size in (data.get("page_sizes") or {}).items():
        if op not in c.PAGE_SIZE_CAPS or not isinstance(size, int) or size < 1:
            p.add(f"{source}: page_sizes.{op}", f"use one of {sorted(c.PAGE_SIZE_CAPS)} -> int>=1")
        else:
            world.page_sizes[op] = min(size, c.PAGE_SIZE_CAPS[op])
    for i, raw in enumerate(_list(data, "clients", source, p)):
        where = f"{source}: clients[{i}]"
        if (item := _mapping(raw, where, p)) is not None:
            world.clients[_str(item, "client_id", where, p)] = (
                _str(item, "client_secret", where, p),
                _str(item, "refresh_token", where, p),
            )
    for i, raw in enumerate(_list(data, "accounts", source, p)):
        where = f"{source}: accounts[{i}]"
        if (item := _mapping(raw, where, p)) is not None:
            _seed_account(world, item, where, p)
    for i, raw in enumerate(_list(data, "manager_accounts", source, p)):
        where = f"{source}: manager_accounts[{i}]"
        if (item := _mapping(raw, where, p)) is not None:
            _seed_manager(world, item, where, p)
    for i, raw in enumerate(_list(data, "amc_accounts", source, p)):
        where = f"{source}: amc_accounts[{i}]"
        if (item := _mapping(raw, where, p)) is not None:
            _seed_amc(world, item, where, p)
    for i, raw in enumerate(_list(data, "ad_accounts", source, p)):
        where = f"{source}: ad_accounts[{i}]"
        if (item := _mapping(raw, where, p)) is not None:
            _seed_ad_account(world, item, where, p)
    if p.items:
        raise ConfigError("invalid sandbox seed:\n" + "\n".join(f"  {x}" for x in p.items))


def _seed_account(world: World, item: Mapping[str, Any], where: str, p: _Problems) -> None:
    account_id = _str(item, "id", where, p)
    account_type = _str(item, "type", where, p, default="SELLER")
    marketplace = _str(item, "marketplace", where, p, default="ATVPDKIKX0DER")
    if account_type not in ACCOUNT_TYPES:
        p.add(where, f"type {account_type!r} is not one of {', '.join(ACCOUNT_TYPES)}")
    if marketplace not in MARKETPLACE_REGION:
        p.add(where, f"marketplace {marketplace!r} is not a known marketplace id")
    if account_id in world.advertisers:
        p.add(where, f"account {account_id!r} is listed twice")
    dsp = _str(item, "dsp_advertiser_id", where, p, default=None) or None
    if (dsp is not None) != (account_type == "DSP_ADVERTISING_ACCOUNT"):
        p.add(where, "dsp_advertiser_id is required for, and only for, DSP_ADVERTISING_ACCOUNT")
    # S-MA `Account.profileId`: only SELLER, VENDOR and MARKETING_CLOUD have one.
    profile = _str(item, "profile_id", where, p, default=None) or None
    world.advertisers[account_id] = Advertiser(
        account_id=account_id,
        name=_str(item, "name", where, p, default=account_id),
        account_type=account_type,
        marketplace_id=marketplace,
        dsp_advertiser_id=dsp,
        profile_id=profile,
    )


def _seed_manager(world: World, item: Mapping[str, Any], where: str, p: _Problems) -> None:
    manager_id = _str(item, "id", where, p)
    manager_type = _str(item, "type", where, p, default="Agency")
    if manager_type not in MANAGER_TYPES:
        p.add(where, f"type {manager_type!r} must be Advertiser or Agency (title-case)")
    links: list[Link] = []
    for j, raw in enumerate(_list(item, "links", where, p)):
        account_id = str(raw.get("id") if isinstance(raw, dict) else raw)
        if account_id not in world.advertisers:
            p.add(f"{where}.links[{j}]", f"{account_id!r} is not in `accounts`")
        role = raw.get("role") if isinstance(raw, dict) else None
        links.append(Link(account_id, role))
    name = _str(item, "name", where, p)
    world.managers[manager_id] = Manager(manager_id, name, manager_type, tuple(links))
    _seed_people(world, Account(manager_id, name, kind=ScopeKind.MANAGER), item, where, p)


def _seed_amc(world: World, item: Mapping[str, Any], where: str, p: _Problems) -> None:
    account_id = _str(item, "id", where, p)
    marketplace = _str(item, "marketplace", where, p, default="ATVPDKIKX0DER")
    name = _str(item, "name", where, p, default=account_id)
    _seed_people(world, Account(account_id, name, marketplace), item, where, p)


def _seed_ad_account(world: World, item: Mapping[str, Any], where: str, p: _Problems) -> None:
    account_id = _str(item, "id", where, p)
    kind = _str(item, "type", where, p)
    if kind not in AD_ACCOUNT_TYPES:
        p.add(where, f"type {kind!r} is not one of {', '.join(AD_ACCOUNT_TYPES)}")
        return
    if any(account_id in world.accounts[k] for k in ScopeKind):
        p.add(where, f"account {account_id!r} is listed twice")
    name = _str(item, "name", where, p, default=account_id)
    # Its profiles (`ops_profiles`): one per marketplace; a sponsored-ads one's type.
    marketplaces = tuple(str(m) for m in _list(item, "marketplaces", where, p))
    for m in marketplaces:
        if m not in MARKETPLACES:
            p.add(where, f"marketplace {m!r} has no profile in the spec's tables (S-PROF2)")
    if len(set(marketplaces)) != len(marketplaces):
        p.add(where, "a marketplace is listed twice")
    profile_type = _str(item, "profile_type", where, p, default="")
    if profile_type not in ("", "seller", "vendor") or (profile_type and kind == "dsp"):
        p.add(where, "profile_type is seller or vendor, on a sponsored-ads account only")
    account = Account(
        account_id,
        name,
        kind=ScopeKind(kind),
        marketplaces=marketplaces,
        profile_type=profile_type,
    )
    _seed_people(world, account, item, where, p)


def _grant(kind: ScopeKind, data: Mapping[str, Any], where: str, p: _Problems) -> Grant | None:
    """`role:` or `permissions:` (and `countries:`) of a seeded user or grant."""
    role = _str(data, "role", where, p, default=None) or None
    permissions = tuple(str(x) for x in _list(data, "permissions", where, p))
    countries = tuple(str(x) for x in _list(data, "countries", where, p))
    if role is None and not permissions:
        role = "VIEWER"
    try:
        return checked_grant(kind, role, permissions, countries)
    except ValueError as exc:
        p.add(where, str(exc))
        return None


def _seed_people(
    world: World, account: Account, item: Mapping[str, Any], where: str, p: _Problems
) -> None:
    """users: email, role (admin | editor | viewer) or permissions (a custom set, on kinds
    that have one), countries (sponsored-ads), or `grants:` (a list of those, a permission
    set per country), optional user_id (default: the person's id on another account, else
    a new one). invitations: email, name, role or permissions, countries, optional id, and
    age_days."""
    kind = account.kind
    users: list[AccountUser] = []
    for j, raw in enumerate(_list(item, "users", where, p)):
        w = f"{where}.users[{j}]"
        if (u := _mapping(raw, w, p)) is None:
            continue
        email = _str(u, "email", w, p)
        listed = _list(u, "grants", w, p)
        grants = [
            _grant(kind, g, f"{w}.grants[{k}]", p)
            for k, raw_grant in enumerate(listed)
            if (g := _mapping(raw_grant, f"{w}.grants[{k}]", p)) is not None
        ]
        if not listed:
            grants = [_grant(kind, u, w, p)]
        held = tuple(g for g in grants if g is not None)
        if not held:
            continue
        uid = _str(u, "user_id", w, p, default=None) or world.user_id_for(email)
        users.append(AccountUser(uid, email, "").holding(held))
        # Visible to `user_id_for` at once: the same person later in this seed shares it.
        world.store(replace(account, users=tuple(users)))
    invitations: list[Invitation] = []
    now = world.now()
    for j, raw in enumerate(_list(item, "invitations", where, p)):
        w = f"{where}.invitations[{j}]"
        if (i := _mapping(raw, w, p)) is None:
            continue
        created = now - float(i.get("age_days", 0)) * DAY
        inv_id = _str(i, "id", w, p, default=None) or f"sandbox-invitation-{world.next_id():06d}"
        role = ""
        if "permissions" not in i:
            role = _str(i, "role", w, p, default=invitation_roles(kind)[-1])
            if kind is not ScopeKind.AMC:
                role = role.upper()  # spelled as the kind's invitations spell roles
            if role not in invitation_roles(kind):
                p.add(w, f"role {role!r} must be one of {', '.join(invitation_roles(kind))}")
        grant = _grant(kind, i, w, p)
        email = _str(i, "email", w, p)
        invitations.append(
            Invitation(
                invitation_id=inv_id,
                email=email,
                name=_str(i, "name", w, p, default=email.split("@")[0]),
                role=role,
                state=c.STATE_PENDING,
                created_at=created,
                expires_at=created + c.INVITATION_LIFETIME_S,
                permissions=grant.permissions if grant is not None else (),
                countries=grant.countries if grant is not None else (),
            )
        )
    viewer_only = item.get("viewer_only", False)
    if not isinstance(viewer_only, bool):
        p.add(where, "viewer_only must be true or false")
    world.store(
        replace(
            account,
            users=tuple(users),
            invitations=tuple(invitations),
            viewer_only=viewer_only is True,
        )
    )
