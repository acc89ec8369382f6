"""Adversarial review of `reconciler adopt`: manifest layouts the line editor
might corrupt, hostile values from the API, and access semantics adopt must keep. Each test
runs the CLI against the in-process sandbox. The review found 17 defects, each first a
strict xfail here; all are fixed, and the tests stay as the attacks adopt must hold against."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.sandbox import World
from tests.driver import A_AMC as AMC
from tests.driver import A_ANN as ANN
from tests.driver import A_BOSS as BOSS
from tests.driver import A_ZED as ZED
from tests.driver import adopt, bytes_of, day, run, seed, settled, setup

AMC2 = "ENTITYATTACKAMC2"
MANAGER = "amzn1.ads1.ma1.ATTACK"

BEA = {"email": "bea@corp.example", "user_id": "amzn1.account.BEA", "role": "VIEWER"}
AMY = {"email": "amy@corp.example", "user_id": "amzn1.account.AMY", "role": "ADMIN"}


# --- layouts -------------------------------------------------------------------------------


CRLF_TEXT = (
    "version: 1\n"
    "groups:\n"
    "  analysts:\n"
    "    - {email: ann@corp.example, userId: amzn1.account.ANN}\n"
    "    - {email: bea@corp.example, userId: amzn1.account.BEA}\n"
    "amcAccounts:\n"
    f"  - id: {AMC}\n"
    "    users:\n"
    "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    "      - {group: analysts, role: viewer}\n"
    "      - email: vic@corp.example  # promoted live\n"
    "        userId: amzn1.account.VIC\n"
    "        role: viewer\n"
    "      - {email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}\n"
    f"  - id: {AMC2}\n"
    "    users:\n"
    "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    "      - {group: analysts, role: viewer}\n"
)
VIC_ADMIN = {"email": "vic@corp.example", "user_id": "amzn1.account.VIC", "role": "ADMIN"}
CRLF_WORLD = seed((AMC, [BOSS, ANN, VIC_ADMIN, ZED]), (AMC2, [BOSS, ANN, BEA]))


def test_every_kind_of_edit_at_once_settles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A role change, a removal, an addition after the last entry and a group split in one
    file: the result validates, plans nothing, and adopt again is a no-op."""
    state, folder = setup(tmp_path, capsys, CRLF_WORLD, {"access.yaml": CRLF_TEXT})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder).decode()
    assert "amzn1.account.ZED" in after and "GONE" not in after
    assert "        role: admin\n" in after
    assert after.endswith("      - {group: analysts, role: viewer}\n")  # the other account
    settled(capsys, state, folder)


def test_crlf_manifest_stays_crlf_through_every_kind_of_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With Windows line endings every line keeps `\\r\\n`: only the changed lines change."""
    text = CRLF_TEXT.replace("\n", "\r\n")
    world = CRLF_WORLD
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder)
    assert after.count(b"\n") == after.count(b"\r\n"), after
    assert b"amzn1.account.ZED" in after and b"GONE" not in after
    assert b"        role: admin\r\n" in after
    settled(capsys, state, folder)


def test_addition_after_the_last_line_of_a_file_without_a_trailing_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}"
    )
    state, folder = setup(tmp_path, capsys, seed((AMC, [BOSS, ZED])), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder).decode()
    assert after.startswith(text + '\n      - {userId: "amzn1.account.ZED", role: viewer}')
    settled(capsys, state, folder)


def test_users_key_added_to_the_last_account_of_a_file_without_a_trailing_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0"
    state, folder = setup(tmp_path, capsys, seed((AMC, [ZED])), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    settled(capsys, state, folder)


def test_removing_the_last_entry_of_a_file_without_a_trailing_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}"
    )
    state, folder = setup(tmp_path, capsys, seed((AMC, [BOSS])), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert bytes_of(folder).decode() == text.rsplit("\n", 1)[0] + "\n"
    settled(capsys, state, folder)


SPLIT_ENTRY = (
    "version: 1\n"
    "amcAccounts:\n"
    f"  - id: {AMC}\n"
    "    users:\n"
    "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    "      - email: ann@corp.example\n"
    "        userId: amzn1.account.ANN\n"
    "        role: viewer\n"
    "      - email: gone@corp.example   # removed in the console\n"
    "        role: viewer\n"
    "{gap}"
    "        {orphan}\n"
    "  - id: {AMC2}\n"
    "    users:\n"
    "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
)


@pytest.mark.parametrize("gap", ["\n", "      # about it:\n"], ids=["blank", "comment"])
@pytest.mark.parametrize(
    "orphan",
    ["notUserIds: [amzn1.account.ZED]", f"expires: '{day(30)}'"],
    ids=["notUserIds", "expires"],
)
def test_removing_a_block_entry_with_a_gap_inside_moves_no_key_to_another_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gap: str, orphan: str
) -> None:
    text = SPLIT_ENTRY.replace("{gap}", gap).replace("{AMC2}", AMC2).replace("{orphan}", orphan)
    assert len(yaml.safe_load(text)["amcAccounts"][0]["users"][2]) == 3
    world = seed((AMC, [BOSS, ANN]), (AMC2, [BOSS]))
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    users = yaml.safe_load(bytes_of(folder))["amcAccounts"][0]["users"]
    assert {"email": "ann@corp.example", "userId": "amzn1.account.ANN", "role": "viewer"} in users
    assert all(len(u) == 3 for u in users), users


def test_a_role_written_with_a_space_before_the_colon_is_edited_not_its_comment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - email: ann@corp.example\n"
        "        userId: amzn1.account.ANN\n"
        "        role : viewer   # role: viewer until the review\n"
    )
    world = seed((AMC, [BOSS, {**ANN, "role": "ADMIN"}]))
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code in (EXIT_OK, EXIT_CHANGES), out
    after = bytes_of(folder).decode()
    assert "# role: viewer until the review" in after  # a comment is never rewritten
    if code == EXIT_CHANGES:
        settled(capsys, state, folder)
    else:
        assert "not adopted" in out, out


# --- adopt --expiring ----------------------------------------------------------------------


def expiring(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *more: tuple[str, str]
) -> tuple[int, str, Path]:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "access.yaml").write_text(text, encoding="utf-8")
    for name, other in more:
        (folder / name).write_text(other, encoding="utf-8")
    code, out = run(capsys, "adopt", "--expiring", str(folder))
    return code, out, folder


@pytest.mark.parametrize("gap", ["\n", "      # ends with the project\n"], ids=["blank", "comment"])
def test_expiring_a_group_entry_never_edits_the_shared_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gap: str
) -> None:
    text = (
        "version: 1\n"
        "groups:\n"
        "  analysts:\n"
        "    - {email: ann@corp.example}\n"
        "    - {email: bea@corp.example}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        "      - group: analysts\n"
        "        role: viewer\n"
        f"{gap}"
        f"        expires: {day(3)}\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        "      - {group: analysts, role: viewer}   # for good\n"
    )
    code, out, folder = expiring(capsys, tmp_path, text)
    assert code == EXIT_CHANGES, out
    doc = yaml.safe_load((folder / "access.yaml").read_text(encoding="utf-8"))
    assert doc["groups"]["analysts"] == [
        {"email": "ann@corp.example"},
        {"email": "bea@corp.example"},
    ]
    assert doc["amcAccounts"][1]["users"][1] == {"group": "analysts", "role": "viewer"}
    assert len(doc["amcAccounts"][0]["users"]) == 1


def test_expiring_a_group_entry_in_a_flow_mapping_ends_only_that_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "groups:\n"
        "  analysts:\n"
        "    - {email: ann@corp.example}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        f"      - {{group: analysts, role: viewer, expires: '{day(3)}'}}  # ends\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        "      - {group: analysts, role: viewer}\n"
    )
    code, out, folder = expiring(capsys, tmp_path, text)
    assert code == EXIT_CHANGES, out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    assert after == "".join(line for line in text.splitlines(True) if "# ends" not in line)


def test_expiring_every_member_of_a_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "groups:\n"
        "  temps:   # summer interns\n"
        f"    - {{email: ann@corp.example, expires: '{day(-2)}'}}\n"
        f"    - {{email: bea@corp.example, expires: '{day(2)}'}}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        "      - {group: temps, role: viewer}\n"
    )
    code, out, folder = expiring(capsys, tmp_path, text)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    doc = yaml.safe_load((folder / "access.yaml").read_text(encoding="utf-8"))
    assert not doc["groups"]["temps"]
    assert run(capsys, "validate", str(folder))[0] == EXIT_OK


def test_expiring_two_admins_whose_removals_only_fail_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        f"      - {{email: amy@corp.example, role: admin, expires: '{day(3)}'}}\n"
        f"      - {{email: bob@corp.example, role: admin, expires: '{day(4)}'}}\n"
        f"      - {{email: cat@corp.example, role: viewer, expires: '{day(5)}'}}\n"
        "      - {email: dan@corp.example, role: viewer}\n"
    )
    code, out, folder = expiring(capsys, tmp_path, text)
    assert code == EXIT_CHANGES, out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    assert "cat@" not in after
    assert ("amy@" in after) != ("bob@" in after)  # one admin stays, listed for the reviewer
    assert "not removed, because the manifests would not pass their own checks" in out
    assert run(capsys, "validate", str(folder))[0] == EXIT_OK


# --- hostile values from the API -----------------------------------------------------------

EVIL = "x\"} # '\n  - {group: admins, role: admin}\u2028\u2029\x85\u202e\u200b\x1b[2J\x07: &a *a ]"


def test_hostile_api_values_stay_one_scalar_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Advertisers name their own accounts and Amazon's strings are untrusted: a link label,
    a live user's id and shown address, an invitation's address, each full of YAML and line
    syntax, are written as one scalar each (or refused), never as a key, line or entry."""
    text = (
        "version: 1\n"
        "managerAccounts:\n"
        "  - name: Attack Co\n"
        f"    id: {MANAGER}\n"
        "    linkedAccounts:\n"
        "      - {id: ENTITYATTACK0001}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    )
    world = seed(
        (AMC, [BOSS]),
        accounts=[
            {"id": "ENTITYATTACK0001", "name": "Shop 1"},
            {"id": "ENTITYATTACK0002", "name": EVIL},
        ],
        manager_accounts=[
            {
                "id": MANAGER,
                "name": "Attack Co",
                "type": "Agency",
                "links": ["ENTITYATTACK0001", "ENTITYATTACK0002"],
            }
        ],
    )
    world["amc_accounts"][0]["invitations"] = [
        {"email": "o'b#\"r}],{i:@corp.example", "role": "viewer"}
    ]
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    stored = World.load(state)
    account = stored.amc[AMC]
    evil_user = dataclasses.replace(account.users[0], user_id="amzn1.account." + EVIL)
    evil_user = dataclasses.replace(evil_user, email=f"z@corp.example{EVIL}", role="VIEWER")
    stored.amc[AMC] = dataclasses.replace(account, users=(*account.users, evil_user))
    stored.save(state)

    raw = ("\u2028", "\u2029", "\x85", "\u202e", "\u200b", "\x1b", "\x07")
    code, out = run(capsys, "adopt", "--diff", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES and not any(bad in out for bad in raw), out
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES and not any(bad in out for bad in raw), out
    after = bytes_of(folder).decode()
    assert not any(bad in after for bad in raw), after
    doc = yaml.safe_load(after)
    assert set(doc) == {"version", "managerAccounts", "amcAccounts"}
    [manager] = doc["managerAccounts"]
    assert set(manager) == {"name", "id", "linkedAccounts"}
    assert all(set(link) <= {"id"} for link in manager["linkedAccounts"]), manager
    [amc] = doc["amcAccounts"]
    assert set(amc) == {"id", "users"}
    for user in amc["users"]:
        assert set(user) <= {"email", "userId", "role", "unicode"}, user
        assert "group" not in user
    roles = [u["role"] for u in amc["users"]]
    assert roles.count("admin") == 1, amc["users"]
    # Only whole lines were added; none of the old lines changed.
    assert after.startswith(text[: text.index("      - {id: ENTITYATTACK0001}")])
    assert [line for line in text.splitlines() if line not in after.splitlines()] == []
    assert len(amc["users"]) == 3 and len(manager["linkedAccounts"]) == 2, after
    assert amc["users"][1]["userId"] == "amzn1.account." + EVIL
    assert amc["users"][2]["email"] == "o'b#\"r}],{i:@corp.example"
    settled(capsys, state, folder)


# --- access semantics ----------------------------------------------------------------------


def test_two_entries_one_masked_fit_neither_is_removed_nor_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ann@ and amy@ both fit the one live a***@ user (an admin): either could be them, so
    adopt removes neither (a guess never removes) and changes no role."""
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, role: viewer}\n"
        "      - {email: amy@corp.example, role: viewer}\n"
    )
    state, folder = setup(tmp_path, capsys, seed((AMC, [BOSS, AMY])), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert bytes_of(folder).decode() == text, out
    assert code == EXIT_OK


@pytest.mark.parametrize(
    "listed",
    [
        ["      - {email: ann@corp.example, role: viewer}\n"],
        [
            "      - {email: ann@corp.example, role: viewer}\n",
            "      - {email: amy@corp.example, role: viewer}\n",
        ],
    ],
    ids=["one-entry-two-fits", "two-entries-two-fits"],
)
def test_masked_users_that_cannot_be_told_apart_are_neither_changed_nor_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listed: list[str]
) -> None:
    """Two live users shown as a***@corp.example, one an admin: no entry's role follows
    either of them, and neither is added pinned beside the entries that may be them."""
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        + "".join(listed)
    )
    state, folder = setup(tmp_path, capsys, seed((AMC, [BOSS, ANN, AMY])), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert "cannot be told apart" in out, out
    after = bytes_of(folder).decode()
    assert after == text, after
    assert code == EXIT_OK


def test_a_masked_only_fit_never_has_its_role_adopted_even_inside_a_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ann@ is unpinned; the only live a***@ user is an admin. Evidence before access: the
    role is not adopted, on a direct entry or through a group, and the group is not split."""
    text = (
        "version: 1\n"
        "groups:\n"
        "  analysts:\n"
        "    - {email: ann@corp.example}\n"
        "    - {email: bea@corp.example, userId: amzn1.account.BEA}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {group: analysts, role: viewer}\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, role: viewer}\n"
    )
    ann_admin = {**ANN, "role": "ADMIN"}
    world = seed((AMC, [BOSS, ann_admin, BEA]), (AMC2, [BOSS, ann_admin]))
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert out.count("by masked address only") == 2, out
    assert bytes_of(folder).decode() == text
    assert code == EXIT_OK


def test_group_split_keeps_every_member_field_and_the_group_in_another_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A member removed live on one account: the account's group entry gets an override
    for them, its own lines and comment kept; the group (in another file, with its
    members' pins, names, notUserIds, expiries and reasons) and the other account (in a
    third) are untouched; the result settles."""
    groups = (
        "version: 1\n"
        "groups:\n"
        "  analysts:\n"
        "    - email: ann@corp.example\n"
        "      userId: amzn1.account.ANN\n"
        '      name: Ann "The Analyst" O\'Neil\n'
        "      notUserIds: [amzn1.account.AMY, 'amzn1.account.#x']\n"
        f"      expires: '{day(40)}'\n"
        "      reason: contract # ends\n"
        "    - {email: bea@corp.example, userId: amzn1.account.BEA}\n"
        "    - {email: cid@corp.example}   # invited, not accepted yet\n"
    )
    one = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - group: analysts   # the analysts\n"
        "        role: viewer\n"
    )
    two = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {group: analysts, role: viewer}\n"
    )
    world = seed((AMC, [BOSS, ANN]), (AMC2, [BOSS, ANN, BEA]))
    world["amc_accounts"][0]["invitations"] = [{"email": "cid@corp.example", "role": "viewer"}]
    world["amc_accounts"][1]["invitations"] = [{"email": "cid@corp.example", "role": "viewer"}]
    state, folder = setup(
        tmp_path, capsys, world, {"groups.yaml": groups, "one.yaml": one, "two.yaml": two}
    )
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert bytes_of(folder, "groups.yaml").decode() == groups
    assert bytes_of(folder, "two.yaml").decode() == two
    # The entry keeps its lines and comment and gains this account's override: every
    # member's own fields stay in the group, where they are written.
    assert bytes_of(folder, "one.yaml").decode() == one + (
        "        overrides:  # reconciler adopt: live changed on this account only "
        f"(bea@corp.example is neither a user of {AMC} nor invited live)\n"
        '          - {userId: "amzn1.account.BEA", role: none}\n'
    )
    settled(capsys, state, folder)


def test_every_member_of_a_shared_group_gone_on_one_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both members removed live on one account only: that account's group entry goes (it
    was the last: `users: []`, and minAdmins 0), the group and the other account stay."""
    text = (
        "version: 1\n"
        "groups:\n"
        "  analysts:\n"
        "    - {email: ann@corp.example, userId: amzn1.account.ANN}\n"
        "    - {email: bea@corp.example, userId: amzn1.account.BEA}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    minAdmins: 0\n"
        "    users:  # analysts only\n"
        "      - {group: analysts, role: viewer}\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {group: analysts, role: viewer}\n"
    )
    world = seed((AMC, []), (AMC2, [BOSS, ANN, BEA]))
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert bytes_of(folder).decode() == text.replace(
        "    users:  # analysts only\n      - {group: analysts, role: viewer}\n",
        "    users: []  # analysts only\n",
    )
    settled(capsys, state, folder)


# --- more layouts --------------------------------------------------------------------------

ZED_LINE = '{userId: "amzn1.account.ZED", role: viewer}  # adopted: live user shown as'

LAYOUTS = {
    "users-first-key-empty": (
        f"version: 1\namcAccounts:\n  - users: []   # ] nobody # yet\n    id: {AMC}\n"
        "    minAdmins: 0\n",
        f"version: 1\namcAccounts:\n  - users:   # ] nobody # yet\n      - {ZED_LINE}",
    ),
    "spaced-brackets-and-document-markers": (
        f"---\nversion: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n    users: [ ]\n...\n",
        f"---\nversion: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n    users:\n"
        f"      - {ZED_LINE}",
    ),
    "indentless-sequence": (
        f"version: 1\namcAccounts:\n- id: {AMC}\n  users:\n  - email: boss@corp.example\n"
        "    userId: amzn1.account.BOSS\n    role: admin\n  # trailing comment\n"
        "  minAdmins: 1\n",
        f"version: 1\namcAccounts:\n- id: {AMC}\n  users:\n  - email: boss@corp.example\n"
        f"    userId: amzn1.account.BOSS\n    role: admin\n  - {ZED_LINE}",
    ),
    "no-users-key-then-comments-and-document-end": (
        f"version: 1\namcAccounts:\n  - id: {AMC}  # [x] # y\n    minAdmins: 0\n\n"
        "  # the end\n...\n",
        f"version: 1\namcAccounts:\n  - id: {AMC}  # [x] # y\n    minAdmins: 0\n"
        f"    users:\n      - {ZED_LINE}",
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_additions_in_unusual_layouts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    text, head = LAYOUTS[layout]
    world = seed((AMC, [BOSS, ZED] if "boss" in text else [ZED]))
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder).decode()
    assert after.startswith(head), after
    settled(capsys, state, folder)


def test_flow_sequences_are_listed_never_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`users: [...]` and `linkedAccounts: [...]` written as flow sequences: a removal, an
    addition and a role change there are listed as not adopted, and the file is untouched."""
    text = (
        "version: 1\n"
        "managerAccounts:\n"
        f"  - {{name: Attack Co, id: {MANAGER}, linkedAccounts: [{{id: ENTITYATTACK0001}}]}}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users: [{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin},\n"
        "            {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer},\n"
        "            {email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}]\n"
    )
    world = seed(
        (AMC, [BOSS, {**ANN, "role": "ADMIN"}, ZED]),
        accounts=[{"id": f"ENTITYATTACK000{n}", "name": f"Shop {n}"} for n in (1, 2)],
        manager_accounts=[
            {"id": MANAGER, "name": "Attack Co", "type": "Agency", "links": ["ENTITYATTACK0002"]}
        ],
    )
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_OK, out
    assert out.count("not adopted:") >= 4, out
    assert bytes_of(folder).decode() == text


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "masked-fit"])
def test_an_expired_grant_still_live_is_never_adopted_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pinned: bool
) -> None:
    """Git says tom's access ended (`expires:` passed) but he is still live: adopt must not
    add him back (pinned by userId, as an unlisted live user) nor drop the expiry."""
    pin = ", userId: amzn1.account.TOM" if pinned else ""
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        f"      - {{email: tom@corp.example{pin}, role: viewer, expires: '{day(-3)}'}}\n"
    )
    tom = {"email": "tom@corp.example", "user_id": "amzn1.account.TOM", "role": "ADMIN"}
    state, folder = setup(tmp_path, capsys, seed((AMC, [BOSS, tom])), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    after = bytes_of(folder).decode()
    assert "TOM" not in after.replace("userId: amzn1.account.TOM, role", ""), after
    assert after == text
    assert code == EXIT_OK, out


def test_prune_false_with_pins_and_not_user_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`prune: false`: nobody unlisted is added (not the stranger, not the live user a
    `notUserIds` says is someone else); entries whose person is gone live are removed."""
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    prune: false\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
        "      - email: bea@corp.example   # b***@ live is her namesake\n"
        "        notUserIds: [amzn1.account.BEA2]\n"
        "        role: viewer\n"
        "      - {email: cid@corp.example, role: admin}\n"
    )
    bea2 = {"email": "bert@corp.example", "user_id": "amzn1.account.BEA2", "role": "VIEWER"}
    cid = {"email": "cid@corp.example", "user_id": "amzn1.account.CID", "role": "VIEWER"}
    state, folder = setup(
        tmp_path, capsys, seed((AMC, [BOSS, bea2, ZED, cid])), {"access.yaml": text}
    )
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "by masked address only" in out, out  # cid@ fits c***@ (a viewer) by mask only
    after = bytes_of(folder).decode()
    assert after == (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    prune: false\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: cid@corp.example, role: admin}\n"
    )
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_OK, out


def test_prune_false_removing_the_only_admin_is_refused_with_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    prune: false\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}\n"
    )
    state, folder = setup(
        tmp_path, capsys, seed((AMC, [ANN]), (AMC2, [BOSS])), {"access.yaml": text}
    )
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert f"amc:{AMC}: nothing adopted there" in out and "minAdmins" in out, out
    after = bytes_of(folder).decode()
    assert after == text.replace(
        "      - {email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}\n", ""
    )


def test_an_expired_invitations_role_is_not_adopted_and_blocks_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, role: viewer}\n"
    )
    world = seed((AMC, [BOSS, ZED]))
    world["amc_accounts"][0]["invitations"] = [{"email": "ann@corp.example", "role": "admin"}]
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    [invitation] = World.load(state).amc[AMC].invitations
    expire = ("sandbox", "expire", AMC, invitation.invitation_id, "--sandbox-state", state)
    assert run(capsys, *expire)[0] == EXIT_OK
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder).decode()
    assert "      - {email: ann@corp.example, role: viewer}\n" in after
    assert "amzn1.account.ZED" in after


def test_a_non_ascii_invitation_is_written_escaped_with_unicode_true_and_settles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    )
    world = seed((AMC, [BOSS]))
    world["amc_accounts"][0]["invitations"] = [{"email": "b\u00e9a@corp.example", "role": "viewer"}]
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder)
    assert after.isascii()
    assert (
        b'      - {email: "b\\u00e9a@corp.example", role: viewer, unicode: true}  # adopted: '
        in after
    )
    settled(capsys, state, folder)


@pytest.mark.parametrize("gap", ["\n", "      # why it ends:\n"], ids=["blank", "comment"])
def test_expiring_a_block_entry_with_a_gap_never_ends_the_entry_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gap: str
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        "      - email: ann@corp.example\n"
        "        role: viewer\n"
        "      - email: tom@corp.example\n"
        "        role: viewer\n"
        f"{gap}"
        f"        expires: '{day(-3)}'\n"
    )
    code, out, folder = expiring(capsys, tmp_path, text)
    assert code == EXIT_CHANGES, out
    users = yaml.safe_load((folder / "access.yaml").read_text(encoding="utf-8"))["amcAccounts"][0][
        "users"
    ]
    assert users == [
        {"email": "boss@corp.example", "role": "admin"},
        {"email": "ann@corp.example", "role": "viewer"},
    ]


def test_an_unlisted_expired_invitation_is_not_added_and_blocks_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    )
    world = seed((AMC, [BOSS, ZED]))
    world["amc_accounts"][0]["invitations"] = [{"email": "old@corp.example", "role": "viewer"}]
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    [invitation] = World.load(state).amc[AMC].invitations
    expire = ("sandbox", "expire", AMC, invitation.invitation_id, "--sandbox-state", state)
    assert run(capsys, *expire)[0] == EXIT_OK
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder).decode()
    assert "old@" not in after and "amzn1.account.ZED" in after


# --- the file adopt writes -----------------------------------------------------------------

GONE_TEXT = (
    "version: 1\n"
    "amcAccounts:\n"
    f"  - id: {AMC}\n"
    "    users:\n"
    "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    "      - {email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}\n"
)


def test_adopt_keeps_the_mode_of_the_file_it_rewrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, seed((AMC, [BOSS])), {"access.yaml": GONE_TEXT})
    (folder / "access.yaml").chmod(0o600)
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert (folder / "access.yaml").stat().st_mode & 0o777 == 0o600


def test_adopt_writes_through_a_symlinked_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, seed((AMC, [BOSS])), {})
    shared = tmp_path / "shared.yaml"
    shared.write_text(GONE_TEXT, encoding="utf-8")
    (folder / "access.yaml").symlink_to(shared)
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder / "access.yaml"))
    assert code == EXIT_CHANGES, out
    assert (folder / "access.yaml").is_symlink()
    assert "gone@" not in shared.read_text(encoding="utf-8")


def test_expiring_keeps_crlf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GONE_TEXT.replace("role: viewer}", f"role: viewer, expires: '{day(-1)}'}}")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "access.yaml").write_bytes(text.replace("\n", "\r\n").encode())
    code, out = run(capsys, "adopt", "--expiring", str(folder))
    assert code == EXIT_CHANGES, out
    lines = text.replace("\n", "\r\n").splitlines(keepends=True)
    assert bytes_of(folder).decode() == "".join(lines[:-1])


def test_links_in_other_regions_and_dsp_links_are_adopted_with_their_keys_and_settle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A link made live in the EU, a DSP advertiser linked live, and a listed link gone:
    the entries written carry `idType:`/`region:`, the gone one goes, and it settles."""
    text = (
        "version: 1\n"
        "managerAccounts:\n"
        "  - name: Attack Co   # the agency\n"
        f"    id: {MANAGER}\n"
        "    linkedAccounts:\n"
        "      - id: ENTITYATTACK0001\n"
        "        region: NA   # home\n"
        "      - {id: ENTITYATTACKGONE}\n"
    )
    world = seed(
        accounts=[
            {"id": "ENTITYATTACK0001", "name": "Shop 1"},
            {"id": "ENTITYATTACKGONE", "name": "Gone"},
            {"id": "ENTITYATTACKEU01", "name": "Shop EU", "marketplace": "A1PA6795UKMFR9"},
            {
                "id": "ENTITYATTACKDSP1",
                "name": "DSP # one",
                "type": "DSP_ADVERTISING_ACCOUNT",
                "dsp_advertiser_id": "5830000000001",
            },
        ],
        manager_accounts=[
            {
                "id": MANAGER,
                "name": "Attack Co",
                "type": "Agency",
                "links": ["ENTITYATTACK0001", "ENTITYATTACKEU01", "ENTITYATTACKDSP1"],
            }
        ],
    )
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder).decode()
    assert after.startswith(text.replace("      - {id: ENTITYATTACKGONE}\n", ""))
    [manager] = yaml.safe_load(after)["managerAccounts"]
    assert len(manager["linkedAccounts"]) == 3, after
    settled(capsys, state, folder)


# --- partial reads -------------------------------------------------------------------------


def adopt_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scope: str
) -> tuple[Any, str]:
    from reconciler.api import AdsClient, ApiConfig
    from reconciler.live.read import read_live
    from reconciler.manifest import load_manifests
    from reconciler.model import Incomplete, Scope
    from reconciler.sandbox import SandboxTransport
    from reconciler.workflows.adopt import compute

    text = (
        "version: 1\n"
        "managerAccounts:\n"
        "  - name: Attack Co\n"
        f"    id: {MANAGER}\n"
        "    linkedAccounts:\n"
        "      - {id: ENTITYATTACK0001}\n"
        "      - {id: ENTITYATTACK0002}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
    )
    world = seed(
        (AMC, [BOSS, ZED]),
        accounts=[{"id": f"ENTITYATTACK000{n}", "name": f"Shop {n}"} for n in (1, 2, 3)],
        manager_accounts=[
            {
                "id": MANAGER,
                "name": "Attack Co",
                "type": "Agency",
                "links": ["ENTITYATTACK0001", "ENTITYATTACK0003"],
            }
        ],
    )
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    desired = load_manifests([str(folder)])
    with AdsClient(ApiConfig.sandbox(), transport=SandboxTransport(World.load(state))) as client:
        live = read_live(desired, client.reader(), now=time.time())
    full = compute(desired, live, now=time.time())
    assert len(full.adopted) == 4, full.adopted  # both kinds drift: ann, ZED, 0002, 0003
    partial = dataclasses.replace(live, incomplete=(Incomplete(Scope.parse(scope), "failed"),))
    adoption = compute(desired, partial, now=time.time())
    return adoption, "amc" if scope.startswith("amc") else "manager"


@pytest.mark.parametrize("scope", ["amc:*", f"amc:{AMC}", "manager:*", f"manager:{MANAGER}"])
def test_nothing_is_adopted_from_a_read_that_may_be_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scope: str
) -> None:
    """A failed or partial read looks like everybody is gone: adopt removes no entry and
    adds none on it, while a completely read scope is still adopted."""
    adoption, touched = adopt_partial(tmp_path, capsys, scope)
    assert len(adoption.adopted) == 2, adoption.adopted
    assert all(("ENTITYATTACK000" in a) is (touched == "amc") for a in adoption.adopted)
    [edit] = adoption.files
    if touched == "amc":
        assert "ann@" in edit.after and "ZED" not in edit.after
    else:
        assert "ENTITYATTACK0002" in edit.after and "ENTITYATTACK0003" not in edit.after


@pytest.mark.parametrize("scope", ["manager:*", f"manager:{MANAGER}"])
def test_a_manager_account_read_incompletely_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scope: str
) -> None:
    adoption, _ = adopt_partial(tmp_path, capsys, scope)
    assert any(MANAGER in line for line in adoption.skipped), adoption.skipped


def test_a_look_alike_domain_shown_by_the_api_is_not_an_allowed_domain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "policy:\n"
        "  allowedEmailDomains: [kcorp.example, corp.example]\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    )
    kelvin = {"email": "mal@\u212acorp.example", "user_id": "amzn1.account.MAL", "role": "VIEWER"}
    state, folder = setup(tmp_path, capsys, seed((AMC, [BOSS, kelvin])), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert "amzn1.account.MAL" not in bytes_of(folder).decode()
    assert "not an allowed email domain" in out, out
    assert code == EXIT_OK


def test_an_account_id_with_a_line_break_never_adds_a_line_to_the_group_comment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The split comment names the account; an id is any non-blank string to the schema.
    Whatever the id holds, the comment stays one line and adds no entry."""
    odd = "ENTITYODD\n      - {userId: amzn1.account.GHOST, role: viewer, expires: '2020-01-01'} #"
    text = (
        "version: 1\n"
        "groups:\n"
        "  admins:\n"
        "    - {email: boss@corp.example, userId: amzn1.account.BOSS}\n"
        "  analysts:\n"
        "    - {email: ann@corp.example, userId: amzn1.account.ANN}\n"
        "    - {email: bea@corp.example, userId: amzn1.account.BEA}\n"
        "amcAccounts:\n"
        f"  - id: {json_str(odd)}\n"
        "    users:\n"
        "      - {email: zed@corp.example, userId: amzn1.account.ZED, role: admin}\n"
        "      - {group: analysts, role: viewer}\n"
    )
    state, folder = setup(
        tmp_path, capsys, seed((odd, [{**ZED, "role": "ADMIN"}, ANN])), {"access.yaml": text}
    )
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder).decode()
    users = yaml.safe_load(after)["amcAccounts"][0]["users"]
    assert not any("GHOST" in str(u) for u in users), after
    assert users[1:] == [
        {
            "group": "analysts",
            "role": "viewer",
            "overrides": [{"userId": "amzn1.account.BEA", "role": "none"}],
        }
    ]
    settled(capsys, state, folder)


def json_str(value: str) -> str:
    import json

    return json.dumps(value)


def test_expiring_a_group_member_with_a_gap_never_ends_the_member_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "groups:\n"
        "  analysts:\n"
        "    - email: ann@corp.example\n"
        "      userId: amzn1.account.ANN\n"
        "    - email: tom@corp.example\n"
        "\n"
        f"      expires: '{day(-3)}'\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        "      - {group: analysts, role: viewer}\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        "      - {group: analysts, role: viewer}\n"
    )
    code, out, folder = expiring(capsys, tmp_path, text)
    assert code == EXIT_CHANGES, out
    doc = yaml.safe_load((folder / "access.yaml").read_text(encoding="utf-8"))
    assert doc["groups"]["analysts"] == [
        {"email": "ann@corp.example", "userId": "amzn1.account.ANN"}
    ]


def test_adopt_never_writes_what_validate_refuses_min_admins_and_expired_admins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        f"      - {{email: old@corp.example, role: admin, expires: '{day(-3)}'}}\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
    )
    state, folder = setup(tmp_path, capsys, seed((AMC, [ANN])), {"access.yaml": text})
    assert run(capsys, "validate", str(folder))[0] == EXIT_OK
    code, out = adopt(capsys, state, folder)
    # Removing boss would leave no admin whose grant has not expired: nothing is adopted on
    # the account (it is listed), and what is written still passes validate.
    assert code == EXIT_OK, out
    assert (
        "nothing adopted there: adopting what is live would list 0 admin(s), under its minAdmins 1"
    ) in out, out
    assert (folder / "access.yaml").read_text(encoding="utf-8") == text
    code, out = run(capsys, "validate", str(folder))
    assert code == EXIT_OK, out


def test_expiring_never_writes_what_validate_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        f"      - {{email: bob@corp.example, role: admin,\n"
        f"         expires: '{day(-3)}'}}\n"
        f"      - {{email: alice@corp.example, role: admin, expires: '{day(3)}'}}\n"
        "      - {email: cat@corp.example, role: viewer}\n"
    )
    original = tmp_path / "original"
    original.mkdir()
    (original / "access.yaml").write_text(text, encoding="utf-8")
    assert run(capsys, "validate", str(original))[0] == EXIT_OK
    code, out, folder = expiring(capsys, tmp_path, text)
    assert code == EXIT_CHANGES, out
    assert run(capsys, "validate", str(folder))[0] == EXIT_OK, out


def test_expiring_removes_an_expired_member_of_an_unused_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "groups:\n"
        "  next-project:   # not used yet\n"
        "    - {email: ann@corp.example}\n"
        f"    - {{email: tom@corp.example, expires: '{day(-3)}'}}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
    )
    code, out, folder = expiring(capsys, tmp_path, text)
    assert code == EXIT_CHANGES, out
    assert "tom@" not in (folder / "access.yaml").read_text(encoding="utf-8")


def test_an_invitation_raised_to_admin_outside_admin_groups_blocks_only_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\n"
        "policy:\n"
        "  adminGroups: [admins]\n"
        "groups:\n"
        "  admins:\n"
        "    - {email: boss@corp.example, userId: amzn1.account.BOSS}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {group: admins, role: admin}\n"
        "      - {email: ann@corp.example, role: viewer}\n"
    )
    world = seed((AMC, [BOSS, ZED]))
    world["amc_accounts"][0]["invitations"] = [{"email": "ann@corp.example", "role": "admin"}]
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder).decode()
    assert "      - {email: ann@corp.example, role: viewer}\n" in after
    assert "amzn1.account.ZED" in after
    assert "only members of admins may be admins" in out, out
