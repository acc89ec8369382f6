"""Seeds, persistence (atomic replace, crash mid-save), locking and sandbox operations."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.model import ScopeKind
from reconciler.sandbox import World, open_state
from tests.sandbox.helpers import ACME, AMC


def test_default_seed_is_the_demo_world(sandbox_world: World) -> None:
    assert [x.account_id for x in sandbox_world.managers[ACME].links] == [
        "ENTITY1ACME0001",
        "ENTITY1ACME0002",
        "ENTITY1ACME0003",
        "ENTITY1ACME0004",
        "ENTITY1ACME0007",
    ]
    amc = sandbox_world.amc[AMC]
    assert {(u.email, u.role) for u in amc.users} == {
        ("alice@example.com", "ADMIN"),
        ("dave@example.com", "VIEWER"),
        ("erin@example.com", "VIEWER"),
        ("frank@example.com", "VIEWER"),
    }
    assert [i.email for i in amc.invitations] == ["bob@example.com"]
    assert sandbox_world.find_advertiser("DSP_ADVERTISER_ID", "5830000000001") is not None


def test_example_seed_loads() -> None:
    world = World.from_seed_file(Path(__file__).parents[2] / "examples" / "sandbox-seed.yaml")
    assert world.managers and world.amc


def test_bad_seed_lists_every_problem(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        textwrap.dedent("""\
        accounts:
          - {id: E1, type: ADVERTISER, marketplace: NOWHERE}
        manager_accounts:
          - {id: M1, name: M, type: agency, links: [E2]}
        """)
    )
    with pytest.raises(ConfigError) as caught:
        World.from_seed_file(seed)
    message = str(caught.value)
    assert "accounts[0]: type 'ADVERTISER'" in message
    assert "marketplace 'NOWHERE'" in message
    assert "manager_accounts[0]: type 'agency'" in message
    assert "manager_accounts[0].links[0]: 'E2' is not in `accounts`" in message


def test_save_and_load_round_trip(tmp_path: Path, sandbox_world: World) -> None:
    sandbox_world.link(ACME, "ENTITY1ACME0008")
    user_id = sandbox_world.accept_invitation(AMC, "sandbox-invitation-bob")
    path = tmp_path / "state.json"
    sandbox_world.save(path)
    loaded = World.load(path)
    assert loaded.snapshot() == sandbox_world.snapshot()
    assert loaded.amc[AMC].user(user_id) is not None
    assert "Atza|" not in path.read_text()  # access tokens are never persisted


def test_a_crash_mid_save_leaves_the_old_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    World.default().save(path)
    before = path.read_text()
    # A child process dies (os._exit) after writing half the temp file and before replace.
    script = textwrap.dedent(f"""
        import os
        import reconciler.sandbox.state as state
        from reconciler.sandbox import World
        real_replace = os.replace
        def crash(*args):
            os._exit(9)
        state.os.replace = crash
        world = World.default()
        world.link("{ACME}", "ENTITY1ACME0008")
        world.save({str(path)!r})
        """)
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == 9
    assert path.read_text() == before
    assert json.loads(before)["version"] == 1
    assert World.load(path).snapshot() == json.loads(before)


def test_open_state_creates_saves_and_reopens(sandbox_state_file: Path) -> None:
    with open_state() as world:
        world.unlink(ACME, "ENTITY1ACME0007")
    assert sandbox_state_file.exists()
    with open_state() as world:
        assert all(x.account_id != "ENTITY1ACME0007" for x in world.managers[ACME].links)


def test_open_state_does_not_save_after_an_error(sandbox_state_file: Path) -> None:
    with open_state():
        pass
    before = sandbox_state_file.read_text()
    with pytest.raises(RuntimeError), open_state() as world:
        world.unlink(ACME, "ENTITY1ACME0001")
        raise RuntimeError("boom")
    assert sandbox_state_file.read_text() == before


def test_a_held_lock_times_out_with_a_helpful_error(sandbox_state_file: Path) -> None:
    # flock locks belong to an open file description: a second open in-process conflicts.
    with (
        open_state(),
        pytest.raises(ConfigError, match="locked by another process"),
        open_state(timeout_s=0.1),
    ):
        pass


def test_corrupt_state_file_says_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="reconciler sandbox reset"):
        World.load(path)


def test_expire_and_accept_rules(sandbox_world: World) -> None:
    sandbox_world.expire_invitation(AMC, "sandbox-invitation-bob")
    with pytest.raises(KeyError, match="EXPIRED"):
        sandbox_world.accept_invitation(AMC, "sandbox-invitation-bob")


def test_ids_are_deterministic() -> None:
    a, b = World.default(), World.default()
    assert a.add_user(AMC, "z@example.com", "viewer") == b.add_user(AMC, "z@example.com", "viewer")


def test_clock_only_moves_forward(sandbox_world: World) -> None:
    sandbox_world.freeze_clock(1000.0)
    sandbox_world.advance_clock(5)
    assert sandbox_world.now() == 1005.0
    with pytest.raises(ValueError, match="forward"):
        sandbox_world.advance_clock(-1)


def test_the_example_seed_has_people_on_every_kind() -> None:
    world = World.from_seed_file(Path(__file__).parents[2] / "examples" / "sandbox-seed.yaml")
    assert all(world.accounts[kind] for kind in ScopeKind)
    owners = {
        u.user_id
        for accounts in world.accounts.values()
        for account in accounts.values()
        for u in account.users
        if u.email == "owner@example.com"
    }
    assert owners == {"amzn1.account.OWNER"}


def test_a_seed_of_other_kinds_lists_every_problem() -> None:
    seed = {
        "manager_accounts": [
            {
                "id": "M1",
                "name": "M",
                "users": [{"email": "a@x.example", "permissions": ["campaign_edit"]}],
            }
        ],
        "ad_accounts": [
            {"id": "G1", "type": "global"},
            {
                "id": "D1",
                "type": "dsp",
                "users": [{"email": "b@x.example", "permissions": ["billing_view"]}],
            },
            {
                "id": "S1",
                "type": "sponsored-ads",
                "invitations": [{"email": "c@x.example", "countries": ["EU"]}],
            },
        ],
    }
    with pytest.raises(ConfigError) as caught:
        World.from_seed(seed)
    assert str(caught.value).splitlines() == [
        "invalid sandbox seed:",
        "  <seed>: manager_accounts[0].users[0]: a manager account does not support custom "
        "permissions: use type ROLE",
        "  <seed>: ad_accounts[0]: type 'global' is not one of sponsored-ads, dsp",
        "  <seed>: ad_accounts[1].users[0]: unknown permission 'billing_view' for a DSP account; "
        "it takes campaign_edit, creatives_edit, reports_edit, reports_limited",
        "  <seed>: ad_accounts[2].invitations[0]: 'EU' is not a country code; use AE, AU, BE, BR, "
        "CA, CL, CO, DE, EG, ES, FR, GB, IE, IN, IT, JP, MX, NG, NL, PL, SA, SE, SG, TR, US, ZA",
    ]


def test_a_state_file_from_before_other_kinds_loads_as_it_was(
    sandbox_world: World, tmp_path: Path
) -> None:
    for kind in (ScopeKind.SPONSORED_ADS, ScopeKind.DSP):  # there were none then
        sandbox_world.accounts[kind].clear()
    old = sandbox_world.snapshot()
    del old["ad_accounts"]
    for manager in old["manager_accounts"]:
        for key in ("users", "invitations", "viewer_only"):
            manager.pop(key, None)
    for account in old["amc_accounts"]:
        account.pop("kind")
        for user in account["users"]:
            for key in ("permissions", "countries", "more"):
                user.pop(key)
        for invitation in account["invitations"]:
            for key in ("permissions", "countries"):
                invitation.pop(key)
    path = tmp_path / "old.json"
    path.write_text(json.dumps({**old}))
    assert World.load(path).snapshot() == sandbox_world.snapshot()
