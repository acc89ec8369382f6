"""Normalisation: defaults, groups, identities, canonical order."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests
from reconciler.model import (
    DesiredAccount,
    DesiredLink,
    DesiredManagerAccount,
    DesiredUser,
    IdType,
    ManagerAccountType,
    Region,
    Role,
    Source,
)

EXAMPLES = Path(__file__).parents[2] / "examples" / "manifests"


def _load(
    tmp_path: Path, text: str
) -> tuple[tuple[DesiredManagerAccount, ...], tuple[DesiredAccount, ...]]:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    desired = load_manifests([path])
    return desired.manager_accounts, desired.accounts


def test_defaults_are_filled(tmp_path: Path) -> None:
    managers, amcs = _load(
        tmp_path,
        "version: 1\nmanagerAccounts:\n  - name: M\n    linkedAccounts: [{id: ENTITY1}]\n"
        "amcAccounts:\n  - id: ENTITY2\n    users: [{email: Ann.Lee@Example.com, role: admin}]\n",
    )
    assert managers == (DesiredManagerAccount(name="M", links=(DesiredLink(id="ENTITY1"),)),)
    link = managers[0].links[0]
    assert (link.id_type, link.region, link.role) == (IdType.ACCOUNT_ID, Region.NA, None)
    assert managers[0].prune is True and managers[0].type is None
    (amc,) = amcs
    assert (amc.prune, amc.notify, amc.min_admins, amc.name) == (True, True, 1, None)
    (user,) = amc.users
    # Display case kept, identity lower-case, name from the part before @.
    assert (user.email, user.key, user.name) == (
        "Ann.Lee@Example.com",
        "ann.lee@example.com",
        "Ann.Lee",
    )
    assert user.source == Source(str(tmp_path / "m.yaml"), 7, 13)


def test_the_demo_world(tmp_path: Path) -> None:
    desired = load_manifests([EXAMPLES])
    acme = next(m for m in desired.manager_accounts if m.name == "Acme Agency")
    assert acme.id == "amzn1.ads1.ma1.acme00000001" and acme.type is ManagerAccountType.AGENCY
    assert [(k.region.value, k.id) for k in acme.links] == [
        ("EU", "ENTITY2EURO0001"),
        *[("NA", f"ENTITY1ACME000{i}") for i in range(1, 6)],
    ]
    globex = next(m for m in desired.manager_accounts if m.name == "Globex Brands")
    assert globex.id is None and globex.type is ManagerAccountType.ADVERTISER
    assert [k.key for k in globex.links] == [
        ("ACCOUNT_ID", "ENTITY1ACME0006"),
        ("DSP_ADVERTISER_ID", "5830000000001"),
    ]
    (amc,) = desired.accounts
    assert [(u.email, u.role, u.group, u.user_id) for u in amc.users] == [
        ("alice@example.com", Role.ADMIN, None, None),
        ("erin@example.com", Role.ADMIN, None, "amzn1.account.ERIN0001"),
        ("bob@example.com", Role.VIEWER, "analysts", None),
        ("carol@example.com", Role.VIEWER, "analysts", None),
        ("frank@example.com", Role.VIEWER, None, None),
    ]


def test_user_pinned_by_id(tmp_path: Path) -> None:
    _, (amc,) = _load(
        tmp_path,
        "version: 1\namcAccounts:\n  - id: E\n    prune: false\n"
        "    users: [{userId: amzn1.account.X, role: viewer}]\n",
    )
    assert amc.users == (DesiredUser(role=Role.VIEWER, user_id="amzn1.account.X"),)


def test_fifty_links_per_region_is_fine(tmp_path: Path) -> None:
    links = "".join(
        f"      - {{id: E{r}{i}, region: {r}}}\n" for r in ("NA", "EU") for i in range(50)
    )
    (manager,), _ = _load(
        tmp_path, f"version: 1\nmanagerAccounts:\n  - name: M\n    linkedAccounts:\n{links}"
    )
    assert len(manager.links) == 100


def test_same_name_allowed_when_every_account_is_pinned(tmp_path: Path) -> None:
    managers, _ = _load(
        tmp_path,
        "version: 1\nmanagerAccounts:\n"
        "  - {name: Same, id: amzn1.b}\n  - {name: Same, id: amzn1.a}\n",
    )
    assert [m.key for m in managers] == ["amzn1.a", "amzn1.b"]


def test_prune_false_needs_no_admins(tmp_path: Path) -> None:
    _, (amc,) = _load(tmp_path, "version: 1\namcAccounts:\n  - {id: E, prune: false}\n")
    assert amc.users == ()


def test_semantic_errors_are_all_reported(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        _load(
            tmp_path,
            "version: 1\nmanagerAccounts: [{name: A}, {name: A}]\n"
            "amcAccounts: [{id: E}, {id: E}]\n",
        )
    messages = [d.message.split(" (also")[0] for d in caught.value.diagnostics]
    assert messages == [
        "duplicate manager account with name `A`",
        "AMC account `E` lists 0 admin(s) but minAdmins is 1: add an admin, or lower `minAdmins`",
        "duplicate AMC account `E`",
    ]


# ---- expires: instants within the calendar --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0001-01-01T00:00:00+14:00", "is before 0001-01-01 00:00 UTC"),
        ("9999-12-31T23:59:59-12:00", "is after 9999-12-31 23:59:59 UTC"),
        ("2026-W01-1", "is not a date or a date and time"),
        ("20261231", "is not a date or a date and time"),
        ("20261231T170000Z", "is not a date or a date and time"),
        ("2026-12-31T17:00:00+0100", "is not a date or a date and time"),
        ("2026-12-31 17:00:00Z", "is not a date or a date and time"),
        ("2026-366", "is not a date or a date and time"),
    ],
)
def test_expires_takes_the_documented_forms_within_the_calendar_only(
    tmp_path: Path, value: str, why: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\namcAccounts:\n  - id: ENTITY2\n    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        f"      - {{email: x@corp.example, role: viewer, expires: '{value}'}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as caught:
        load_manifests([path])
    assert str(caught.value).count(f"{path}:6:56: `expires: {value}` {why}") == 1, caught.value


@pytest.mark.parametrize(
    ("value", "epoch"),
    [
        ("2026-12-31", 1_798_675_200.0),
        ("2026-12-31T17:00:00+01:00", 1_798_732_800.0),
        ("2026-12-31T16:00:00Z", 1_798_732_800.0),
        ("2026-12-31T16:00Z", 1_798_732_800.0),
        ("2026-12-31T16:00:00.5Z", 1_798_732_800.5),
        ("0001-01-01", -62_135_596_800.0),
        ("9999-12-31T23:59:59Z", 253_402_300_799.0),
    ],
)
def test_expires_documented_forms(tmp_path: Path, value: str, epoch: float) -> None:
    _, (amc,) = _load(
        tmp_path,
        "version: 1\namcAccounts:\n  - id: ENTITY2\n    prune: false\n    users:\n"
        f"      - {{email: x@corp.example, role: viewer, expires: '{value}'}}\n",
    )
    assert amc.users[0].expires == epoch
