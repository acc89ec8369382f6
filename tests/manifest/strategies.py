"""Hypothesis strategies for valid manifests, as the plain data a YAML file holds."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

from reconciler.model import Desired

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

entity_ids = st.text(_ALNUM, min_size=4, max_size=12).map(lambda s: f"ENTITY{s}")
dsp_ids = st.from_regex(r"[1-9][0-9]{5,12}", fullmatch=True)
names = st.from_regex(r"[A-Za-z][A-Za-z0-9 .&-]{0,20}[A-Za-z0-9]", fullmatch=True)
emails = st.builds(
    lambda local, domain, upper: (
        (f"{local}@{domain}.example.com").upper() if upper else f"{local}@{domain}.example.com"
    ),
    st.from_regex(r"[a-z][a-z0-9._+-]{0,10}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
    st.booleans(),
)
group_names = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)


@st.composite
def links(draw: st.DrawFn) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    keys: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(0, 6))):
        dsp = draw(st.booleans())
        link: dict[str, Any] = {"id": draw(dsp_ids if dsp else entity_ids)}
        kind = "DSP_ADVERTISER_ID" if dsp else "ACCOUNT_ID"
        if dsp or draw(st.booleans()):
            link["idType"] = kind
        if draw(st.booleans()):
            link["region"] = draw(st.sampled_from(["NA", "EU", "FE"]))
        if draw(st.booleans()):
            link["role"] = draw(
                st.sampled_from(["ENTITY_OWNER", "ENTITY_USER", "ENTITY_VIEWER", "SELLER_USER"])
            )
        if (kind, link["id"]) not in keys:
            keys.add((kind, link["id"]))
            result.append(link)
    return result


@st.composite
def manager_accounts(draw: st.DrawFn) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    used: set[str] = set()
    for index in range(draw(st.integers(0, 4))):
        name = draw(names)
        if name in used:
            continue
        used.add(name)
        account: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            account["id"] = f"amzn1.ads1.ma1.{index}{draw(st.text(_ALNUM, min_size=3, max_size=8))}"
        if draw(st.booleans()):
            account["type"] = draw(st.sampled_from(["Advertiser", "Agency"]))
        if draw(st.booleans()):
            account["prune"] = draw(st.booleans())
        account["linkedAccounts"] = draw(links())
        result.append(account)
    return result


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid manifest: unique identities, one role per person, enough admins."""
    groups: dict[str, list[dict[str, Any]]] = {}
    people: set[str] = set()
    for name in draw(st.lists(group_names, max_size=3, unique=True)):
        members = []
        for email in draw(st.lists(emails, max_size=3)):
            if email.lower() in people:
                continue
            people.add(email.lower())
            member: dict[str, Any] = {"email": email}
            if draw(st.booleans()):
                member["name"] = draw(names)
            members.append(member)
        groups[name] = members
    amcs: list[dict[str, Any]] = []
    for amc_id in draw(st.lists(entity_ids, max_size=3, unique=True)):
        users: list[dict[str, Any]] = [
            {"email": f"admin@{amc_id.lower()}.example.com", "role": "admin"}
        ]
        taken = {users[0]["email"]}
        for group in draw(st.lists(st.sampled_from(sorted(groups)), unique=True)) if groups else []:
            users.append({"group": group, "role": draw(st.sampled_from(["admin", "viewer"]))})
        for email in draw(st.lists(emails, max_size=4)):
            if email.lower() in people or email.lower() in taken:
                continue
            taken.add(email.lower())
            user: dict[str, Any] = {
                "email": email,
                "role": draw(st.sampled_from(["admin", "viewer"])),
            }
            if draw(st.booleans()):
                user["name"] = draw(names)
            users.append(user)
        if draw(st.booleans()):
            users.append({"userId": f"amzn1.account.{amc_id}", "role": "viewer"})
        account: dict[str, Any] = {"id": amc_id, "users": users}
        for key, strategy in (
            ("name", names),
            ("prune", st.booleans()),
            ("notify", st.booleans()),
            ("minAdmins", st.integers(0, 1)),
        ):
            if draw(st.booleans()):
                account[key] = draw(strategy)
        amcs.append(account)
    manifest: dict[str, Any] = {"version": 1}
    if groups:
        manifest["groups"] = groups
    manifest["managerAccounts"] = draw(manager_accounts())
    manifest["amcAccounts"] = amcs
    return manifest


def dump(manifest: dict[str, Any]) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)


def to_manifest(desired: Desired) -> dict[str, Any]:
    """Write a normalised `Desired` back as manifest data (groups already expanded)."""
    return {
        "version": 1,
        "managerAccounts": [
            {
                "name": m.name,
                **({"id": m.id} if m.id is not None else {}),
                **({"type": m.type.value} if m.type is not None else {}),
                "prune": m.prune,
                "linkedAccounts": [
                    {
                        "id": link.id,
                        "idType": link.id_type.value,
                        "region": link.region.value,
                        **({"role": link.role.value} if link.role is not None else {}),
                    }
                    for link in m.links
                ],
            }
            for m in desired.manager_accounts
        ],
        "amcAccounts": [
            {
                "id": a.id,
                **({"name": a.name} if a.name is not None else {}),
                "prune": a.prune,
                "notify": a.notify,
                "minAdmins": a.min_admins,
                "users": [
                    {
                        **({"email": u.email} if u.email is not None else {}),
                        **({"userId": u.user_id} if u.user_id is not None else {}),
                        **({"name": u.name} if u.name else {}),
                        "role": u.role.value,
                    }
                    for u in a.users
                ],
            }
            for a in desired.accounts
        ],
    }
