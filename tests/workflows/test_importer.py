"""`reconciler.workflows.importer`: live state -> manifests that plan to nothing."""

from __future__ import annotations

import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from reconciler.api import AdsClient, ApiConfig
from reconciler.errors import ReconcilerError
from reconciler.live.read import read_all, read_live
from reconciler.manifest import load_manifests
from reconciler.model import LiveUser, ScopeKind
from reconciler.plan import ActionKind, Plan, Policy
from reconciler.planning.planner import make_plan
from reconciler.sandbox import SandboxTransport, World
from reconciler.workflows.importer import HEADER, import_live, render_import
from tests.driver import run, setup
from tests.factories import (
    ACME_AMC,
    ACME_ID,
    invitation,
    live,
    live_amc,
    live_link,
    live_manager,
    live_user,
)
from tests.hostile import REPRODUCTIONS, hostile_text


@pytest.fixture
def client(sandbox_world: World) -> Iterator[AdsClient]:
    with AdsClient(ApiConfig.sandbox(), transport=SandboxTransport(sandbox_world)) as c:
        yield c


def import_then_plan(world: World, client: AdsClient, out: Path) -> Plan:
    import_live(read_all(client.reader(), now=world.now()), out)
    want = load_manifests([out])
    return make_plan(want, read_live(want, client.reader()), Policy(now=world.now()))


def test_demo_world_imports_to_manifests_that_plan_to_nothing(
    sandbox_world: World, client: AdsClient, tmp_path: Path
) -> None:
    plan = import_then_plan(sandbox_world, client, tmp_path)
    assert plan.is_empty and not plan.warnings
    assert [w.email for w in plan.waiting] == ["bob@example.com"]
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*"))
    assert files == [
        "amc/ENTITY1AA1AA11AAA1.yaml",
        "dsp/ENTITY1DSP00001.yaml",
        "managers/acme-agency.yaml",
        "manifest.schema.json",
        f"sponsored-ads/{GLOBAL}.yaml",
    ]
    # Found through GET /v2/profiles on two hosts (US and UK): one account, one file.
    (ads,) = yaml.safe_load((tmp_path / f"sponsored-ads/{GLOBAL}.yaml").read_text())["adAccounts"]
    assert ads == {
        "id": GLOBAL,
        "type": "sponsored-ads",
        "name": "Acme Global",
        "prune": True,
        "notify": True,
        "minAdmins": 1,
        "users": [
            {"userId": "amzn1.account.ALICE0001", "role": "admin"},
            {
                "userId": "amzn1.account.ERIN0001",
                "permissions": ["campaign_edit", "reports_view"],
                "countries": ["US"],
            },
        ],
    }
    (dsp,) = yaml.safe_load((tmp_path / "dsp/ENTITY1DSP00001.yaml").read_text())["adAccounts"]
    assert (dsp["type"], dsp["name"], len(dsp["users"])) == ("dsp", "Acme DSP Advertiser", 2)
    for path in tmp_path.rglob("*.yaml"):
        assert path.read_text().startswith(HEADER + "\n")
        # The header's relative path leads to the schema written beside the manifests.
        assert (path.parent / HEADER.split("=", 1)[1]).resolve().is_file()


GLOBAL = "amzn1.ads-account.g.acme0000000001"


def test_masked_users_are_pinned_by_user_id_with_a_comment_saying_why(
    client: AdsClient, tmp_path: Path
) -> None:
    import_live(read_all(client.reader()), tmp_path)
    text = (tmp_path / "amc" / f"{ACME_AMC}.yaml").read_text()
    assert (
        "# a***@example.com: POST /users/list masks addresses, so this user is pinned by userId\n"
        '      - {userId: "amzn1.account.ALICE0001", role: admin}\n'
    ) in text
    data = yaml.safe_load(text)
    users = data["amcAccounts"][0]["users"]
    assert {"email": "bob@example.com", "name": "Bob", "role": "viewer"} in users
    assert all("email" not in u for u in users if "userId" in u)


def test_refuses_to_overwrite_unless_forced(client: AdsClient, tmp_path: Path) -> None:
    mine = tmp_path / "managers" / "acme-agency.yaml"
    mine.parent.mkdir()
    mine.write_text("# my own work\n")
    live_state = read_all(client.reader())
    with pytest.raises(ReconcilerError, match="--force") as caught:
        import_live(live_state, tmp_path)
    assert str(mine) in str(caught.value)
    assert mine.read_text() == "# my own work\n"
    assert not (tmp_path / "amc").exists()  # nothing written at all
    written = import_live(live_state, tmp_path, force=True)
    assert mine in written and "Acme Agency" in mine.read_text()


def test_unmanaged_roles_expired_invitations_and_more_regions(
    sandbox_world: World, client: AdsClient, tmp_path: Path
) -> None:
    sandbox_world.add_user(ACME_AMC, "ed@example.com", "editor", user_id="amzn1.account.ED01")
    sandbox_world.expire_invitation(ACME_AMC, "sandbox-invitation-bob")
    sandbox_world.advance_clock(60)  # clear of the API's millisecond rounding of times
    sandbox_world.link(ACME_ID, "ENTITY2EURO0001")
    sandbox_world.link(ACME_ID, "ENTITY1DSP00001")
    plan = import_then_plan(sandbox_world, client, tmp_path)
    # An expired invitation is imported (somebody is wanted) and the plan resends it.
    assert [(a.kind, a.email) for a in plan.actions] == [
        (ActionKind.RESEND_INVITATION, "bob@example.com")
    ]
    amc_text = (tmp_path / "amc" / f"{ACME_AMC}.yaml").read_text()
    assert "e***@example.com (amzn1.account.ED01) holds EDITOR, which reconciler" in amc_text
    assert "ED01" not in str(yaml.safe_load(amc_text))  # a comment, not an entry
    assert "`reconciler plan` will resend it" in amc_text
    manager_text = (tmp_path / "managers" / "acme-agency.yaml").read_text()
    assert '{id: "ENTITY2EURO0001", region: EU}' in manager_text


def test_an_incomplete_read_is_imported_with_prune_off() -> None:
    state = live(
        [live_manager(ACME_ID, "Acme Agency")],
        [live_amc(ACME_AMC, [live_user("amzn1.account.A", "a@example.com", "admin")])],
        incomplete={f"manager:{ACME_ID}": "50 links, may be truncated", "amc:*": "list failed"},
    )
    files = render_import(state)
    manager = yaml.safe_load(files["managers/acme-agency.yaml"])["managerAccounts"][0]
    amc = yaml.safe_load(files[f"amc/{ACME_AMC}.yaml"])["amcAccounts"][0]
    assert manager["prune"] is False and amc["prune"] is False
    assert "50 links, may be truncated" in files["managers/acme-agency.yaml"]


def test_same_named_manager_accounts_get_separate_files() -> None:
    state = live(
        [live_manager("amzn1.ads1.ma1.one", "Twin"), live_manager("amzn1.ads1.ma1.two", "Twin")],
        [live_amc("ENTITYAMC", [], [invitation("i-1", "x@example.com")])],
    )
    files = render_import(state)
    assert sorted(files) == [
        "amc/ENTITYAMC.yaml",
        "managers/twin-two.yaml",
        "managers/twin.yaml",
        "manifest.schema.json",
    ]


def test_same_named_manager_accounts_whose_ids_end_alike_each_get_a_file() -> None:
    """The third "Twin" (and a "Twin One") would take the name the second one took."""
    twins = [live_manager(f"amzn1.ads1.ma1.{p}.one", "Twin") for p in ("a", "b", "c")]
    files = render_import(live([*twins, live_manager("amzn1.ads1.ma1.d", "Twin One")], []))
    managers = sorted(f for f in files if f.startswith("managers/"))
    ids = [yaml.safe_load(files[m])["managerAccounts"][0]["id"] for m in managers]
    assert sorted(ids) == [*sorted(m.id for m in twins), "amzn1.ads1.ma1.d"], managers
    assert managers[-2:] == ["managers/twin-one.yaml", "managers/twin.yaml"]


# --- Hostile names: third parties choose them; they stay data ------------------

HOSTILE_MANAGER = "amzn1.ads1.ma1.hostile0001"
HOSTILE_AMC = "ENTITYHOSTILEAMC1"
HOSTILE_ADS = "amzn1.ads-account.g.hostile0001"
HOSTILE_DSP = "ENTITYHOSTILEDSP1"


def _hostile_world(manager: str, linked: str, amc: str, invitee: str) -> World:
    return World.from_seed(
        {
            "name": "hostile",
            "accounts": [
                {"id": "ENTITYHOSTILE01", "name": linked},
                {"id": "ENTITYOTHER9", "name": "another client's account"},
            ],
            "manager_accounts": [
                {
                    "id": HOSTILE_MANAGER,
                    "name": manager,
                    "type": "Agency",
                    "links": ["ENTITYHOSTILE01"],
                }
            ],
            "amc_accounts": [
                {
                    "id": HOSTILE_AMC,
                    "name": amc,
                    "users": [{"email": "admin@example.com", "role": "admin"}],
                    "invitations": [
                        {"email": "eve@example.com", "name": invitee, "role": "viewer"}
                    ],
                }
            ],
            # Names that reach us through GET /v2/profiles (accountInfo.name).
            "ad_accounts": [
                {
                    "id": HOSTILE_ADS,
                    "type": "sponsored-ads",
                    "name": amc,
                    "marketplaces": ["ATVPDKIKX0DER", "A1F83G8C2ARO7P"],
                    "users": [{"email": "admin@example.com", "role": "admin"}],
                },
                {
                    "id": HOSTILE_DSP,
                    "type": "dsp",
                    "name": linked,
                    "users": [{"email": "admin@example.com", "role": "admin"}],
                },
            ],
        }
    )


def _import_hostile(world: World, out: Path) -> Plan:
    with AdsClient(ApiConfig.sandbox(), transport=SandboxTransport(world)) as c:
        import_live(read_all(c.reader(), now=world.now()), out)
        manager = yaml.safe_load((out / "managers").glob("*.yaml").__next__().read_text("utf-8"))
        amc = yaml.safe_load((out / "amc" / f"{HOSTILE_AMC}.yaml").read_text("utf-8"))
        # Exactly the live ids and nothing else: no entry smuggled in through a name.
        (account,) = manager["managerAccounts"]
        assert account["id"] == HOSTILE_MANAGER
        assert account["name"] == world.managers[HOSTILE_MANAGER].name
        assert account["linkedAccounts"] == [{"id": "ENTITYHOSTILE01"}]
        (amc_account,) = amc["amcAccounts"]
        assert amc_account["id"] == HOSTILE_AMC
        assert amc_account["name"] == world.amc[HOSTILE_AMC].name
        assert len(amc_account["users"]) == 2
        invited = next(u for u in amc_account["users"] if "email" in u and "userId" not in u)
        assert invited == {
            "email": "eve@example.com",
            "name": world.amc[HOSTILE_AMC].invitations[0].name,
            "role": "viewer",
        }
        for folder, account_id, name in (
            (
                "sponsored-ads",
                HOSTILE_ADS,
                world.accounts[ScopeKind.SPONSORED_ADS][HOSTILE_ADS].name,
            ),
            ("dsp", HOSTILE_DSP, world.accounts[ScopeKind.DSP][HOSTILE_DSP].name),
        ):
            (ad,) = yaml.safe_load((out / folder / f"{account_id}.yaml").read_text("utf-8"))[
                "adAccounts"
            ]
            assert (ad["id"], ad["type"], ad.get("name", "")) == (
                account_id,
                folder,
                name.strip() and name,
            )
            assert ad["users"] == [
                {"userId": world.user_id_for("admin@example.com"), "role": "admin"}
            ]
        assert sorted(p.relative_to(out).parts[0] for p in out.rglob("*.yaml")) == [
            "amc", "dsp", "managers", "sponsored-ads"
        ]  # fmt: skip
        for path in out.rglob("*.yaml"):
            for line in path.read_text("utf-8").splitlines():
                # No raw control, bidi or separator character survives anywhere in the file.
                assert not any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in line)
        want = load_manifests([out])
        return make_plan(want, read_live(want, c.reader()), Policy(now=world.now()))


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_each_reproduced_hostile_name_imports_as_data(name: str, tmp_path: Path) -> None:
    plan = _import_hostile(_hostile_world(name, name, name, name), tmp_path)
    assert plan.is_empty and not plan.warnings


def test_a_newline_in_a_linked_account_name_cannot_add_a_link(tmp_path: Path) -> None:
    """The issue's reproduction: the name in the comment used to become a list entry."""
    name = "Client B Store\n      - {id: ENTITYOTHER9}  # …"
    _import_hostile(_hostile_world("Acme", name, "AMC", "Eve"), tmp_path)
    text = next((tmp_path / "managers").glob("*.yaml")).read_text("utf-8")
    assert '- {id: "ENTITYHOSTILE01"}  # Client B Store\\u000a      - {id: ENTITYOTHER9}' in text


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(manager=hostile_text(), linked=hostile_text(), amc=hostile_text(), invitee=hostile_text())
def test_hostile_names_import_to_manifests_that_plan_to_nothing(
    manager: str, linked: str, amc: str, invitee: str
) -> None:
    with tempfile.TemporaryDirectory() as out:
        plan = _import_hostile(_hostile_world(manager, linked, amc, invitee), Path(out))
    assert plan.is_empty and not plan.warnings


@settings(max_examples=50, deadline=None)
@given(text=hostile_text(), other=hostile_text(long=False))
def test_hostile_strings_in_every_comment_stay_in_their_comment(text: str, other: str) -> None:
    """Strings the API sends that reach only comments: masked emails, user and invitation
    ids, unmanaged role names, link types, the reason a read was incomplete."""
    state = live(
        [live_manager(ACME_ID, "Acme", live_link("ENTITYL1", name=text, account_type=other))],
        [
            live_amc(
                ACME_AMC,
                [
                    live_user(text, f"{other}@example.com", "admin", masked=False),
                    live_user("amzn1.account.M", f"{text}*@x", "viewer", masked=False),
                    LiveUser(user_id=other, email=text, role=None, raw_roles=(text, other)),
                ],
                [
                    invitation(text, "eve@example.com"),
                    invitation(other, "unmanaged@example.com", None),
                ],
            )
        ],
        incomplete={f"amc:{ACME_AMC}": text},
    )
    files = render_import(state)
    manager = yaml.safe_load(files["managers/acme.yaml"])["managerAccounts"]
    assert manager == [
        {
            "name": "Acme",
            "id": ACME_ID,
            "prune": True,
            "linkedAccounts": [{"id": "ENTITYL1"}],
        }
    ]
    (amc_account,) = yaml.safe_load(files[f"amc/{ACME_AMC}.yaml"])["amcAccounts"]
    assert amc_account["prune"] is False
    assert sorted(amc_account["users"], key=str) == sorted(
        [
            {"userId": text, "role": "admin"}
            if "*" in other  # looks masked: pinned by userId only
            else {"userId": text, "email": f"{other}@example.com", "role": "admin"},
            {"userId": "amzn1.account.M", "role": "viewer"},
            {"email": "eve@example.com", "name": "eve", "role": "viewer"},
        ],
        key=str,
    )
    for path, body in files.items():
        for line in body.splitlines() if path.endswith(".yaml") else ():
            if line.lstrip().startswith("#"):  # a comment line: API strings in it are cut
                assert len(line) < 600


# --- Every kind, through the CLI against the sandbox ----------------------------------------

EVERY_KIND_SEED: dict[str, Any] = {
    "accounts": [{"id": "ENTITYKINDS0001", "name": "Shop", "profile_id": "1"}],
    "manager_accounts": [
        {
            "id": "amzn1.ads1.ma1.kinds0001",
            "name": "Kinds Agency",
            "links": ["ENTITYKINDS0001"],
            "users": [{"email": "boss@corp.example", "role": "ADMIN"}],
            "invitations": [{"email": "new@corp.example", "role": "VIEWER"}],
        }
    ],
    "amc_accounts": [
        {"id": "ENTITYKINDSAMC01", "users": [{"email": "boss@corp.example", "role": "ADMIN"}]}
    ],
    "ad_accounts": [
        {
            "id": "amzn1.ads-account.g.kinds0001",
            "type": "sponsored-ads",
            "name": "Kinds Global",
            "profile_type": "vendor",
            "marketplaces": ["ATVPDKIKX0DER", "A1PA6795UKMFR9", "A1VC38T7YXB528"],
            "users": [
                {"email": "boss@corp.example", "role": "ADMIN"},
                {"email": "ana@corp.example", "permissions": ["reports_view"], "countries": ["DE"]},
            ],
            "invitations": [{"email": "cy@corp.example", "role": "EDITOR", "countries": ["US"]}],
        },
        {
            "id": "ENTITYKINDSDSP01",
            "type": "dsp",
            "users": [
                {"email": "boss@corp.example", "role": "ADMIN"},
                {"email": "ana@corp.example", "permissions": ["reports_edit"]},
            ],
        },
    ],
}


def test_import_then_plan_is_empty_for_every_kind_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, _ = setup(tmp_path, capsys, EVERY_KIND_SEED, {})
    out = tmp_path / "imported"
    code, text = run(capsys, "import", "--sandbox-state", state, "--out", str(out))
    assert code == 0, text
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert written == [
        "amc/ENTITYKINDSAMC01.yaml",
        "dsp/ENTITYKINDSDSP01.yaml",
        "managers/kinds-agency.yaml",
        "sponsored-ads/amzn1.ads-account.g.kinds0001.yaml",
    ]
    kinds = load_manifests([out])
    assert sorted((a.kind.value, len(a.users)) for a in kinds.accounts) == [
        ("amc", 1),
        ("dsp", 2),
        ("manager", 2),
        ("sponsored-ads", 3),
    ]
    code, text = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(out))
    assert code == 0 and "No changes." in text, text


def test_accounts_whose_ids_make_the_same_file_name_each_get_their_own_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ids that differ only where a file name cannot (`:` and `_`, or case, which some file
    systems ignore) are never written over each other: every account is imported."""
    boss = {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"}
    ids = ["ENTITYA:B", "ENTITYA_B", "entitya_b"]
    world = {"ad_accounts": [{"id": i, "type": "dsp", "users": [boss]} for i in ids]}
    state, _ = setup(tmp_path, capsys, world, {})
    out = tmp_path / "imported"
    code, text = run(capsys, "import", "--sandbox-state", state, "--out", str(out))
    assert code == 0, text
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert len({name.lower() for name in written}) == 3, written
    assert "dsp/ENTITYA_B.yaml" in written  # an id that is a file name keeps it
    imported = load_manifests([out])
    assert sorted(a.id for a in imported.accounts) == sorted(ids)
    code, text = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(out))
    assert code == 0 and "No changes." in text, text
