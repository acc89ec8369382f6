"""`reconciler adopt` through the CLI against the sandbox: live access that moved away from the
manifests becomes manifest edits. Only the lines that change, change, in any layout and line
ending; values from the API stay data; a masked fit, an expired grant or a read that may be
incomplete never changes access; and what adopt writes validates, plans nothing, and adopt
again is a no-op."""

from __future__ import annotations

import dataclasses
import difflib
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.api import AdsClient, ApiConfig
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.live.read import read_live
from reconciler.manifest import load_manifests
from reconciler.model import Grant, Incomplete, LiveUser, Role, Scope
from reconciler.sandbox import SandboxTransport, World
from reconciler.workflows.adopt import compute
from tests.driver import A_AMC as AMC
from tests.driver import A_ANN as ANN
from tests.driver import A_BOSS as BOSS
from tests.driver import A_ZED as ZED
from tests.driver import adopt, bytes_of, day, run, seed, settled, setup

AMC2 = "ENTITYAGENCYAMC2"
MANAGER = "amzn1.ads1.ma1.AGENCY"

BEA = {"email": "bea@corp.example", "user_id": "amzn1.account.BEA", "role": "VIEWER"}
AMY = {"email": "amy@corp.example", "user_id": "amzn1.account.AMY", "role": "ADMIN"}


# --- a drifted world, end to end: plan is empty after, untouched lines stay byte for byte ----


CO_AMC1, CO_AMC2 = "ENTITYADOPTAMC01", "ENTITYADOPTAMC02"


CO_MANAGER = "amzn1.ads1.ma1.ADOPT"


CO_SEED = {
    "accounts": [
        {"id": "ENTITYADOPT0001", "name": "Shop One"},
        {"id": "ENTITYADOPT0002", "name": "Shop Two"},
        {"id": "ENTITYADOPT0003", "name": "Shop Three"},
    ],
    "manager_accounts": [
        {
            "id": CO_MANAGER,
            "name": "Adopt Co",
            "links": ["ENTITYADOPT0001", "ENTITYADOPT0002", "ENTITYADOPT0003"],
        }
    ],
    "amc_accounts": [
        {
            "id": CO_AMC1,
            "users": [
                {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"},
                {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "VIEWER"},
                {"email": "bea@corp.example", "user_id": "amzn1.account.BEA", "role": "VIEWER"},
                {"email": "vic@corp.example", "user_id": "amzn1.account.VIC", "role": "VIEWER"},
            ],
            "invitations": [{"email": "ivy@corp.example", "role": "viewer"}],
        },
        {
            "id": CO_AMC2,
            "users": [
                {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"},
                {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "VIEWER"},
                {"email": "bea@corp.example", "user_id": "amzn1.account.BEA", "role": "VIEWER"},
            ],
        },
    ],
}


CO_MANIFEST = f"""\
# Access for Adopt Co. Comments and layout must survive adopt.
version: 1

groups:
  analysts:   # shared by both AMC accounts
    - {{email: ann@corp.example, userId: amzn1.account.ANN}}
    - email: bea@corp.example
      userId: amzn1.account.BEA

managerAccounts:
  - name: Adopt Co
    id: {CO_MANAGER}
    linkedAccounts:
      - {{id: ENTITYADOPT0001}}   # the first shop
      - {{id: ENTITYADOPT0002}}
      - {{id: ENTITYADOPT0003}}

amcAccounts:
  - id: {CO_AMC1}
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}  # the boss
      - {{group: analysts, role: viewer}}
      - userId: amzn1.account.VIC
        email: vic@corp.example
        role: viewer     # a viewer, for now
      - {{email: ivy@corp.example, role: viewer}}   # invited
  - id: {CO_AMC2}   # second account
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}
      - {{group: analysts, role: viewer}}
"""


def adopt_co(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, Path]:
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(CO_SEED), encoding="utf-8")
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed))[0] == EXIT_OK
    )
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "access.yaml").write_text(CO_MANIFEST, encoding="utf-8")
    return state, folder


def drift_the_world(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    def sandbox(*argv: str) -> None:
        code, out = run(capsys, "sandbox", *argv, "--sandbox-state", state)
        assert code == EXIT_OK, out

    # A viewer promoted in the console.
    sandbox("remove-user", CO_AMC1, "amzn1.account.VIC")
    sandbox(
        "add-user", CO_AMC1, "vic@corp.example", "--role", "admin", "--user-id", "amzn1.account.VIC"
    )
    # A stranger added (the API shows them masked), a group member removed on one account.
    sandbox(
        "add-user",
        CO_AMC1,
        "zed@corp.example",
        "--role",
        "viewer",
        "--user-id",
        "amzn1.account.ZED",
    )
    sandbox("remove-user", CO_AMC1, "amzn1.account.BEA")
    sandbox("unlink", CO_MANAGER, "ENTITYADOPT0002")
    # The invitation revoked in the console.
    world = World.load(state)
    account = world.amc[CO_AMC1]
    world.amc[CO_AMC1] = dataclasses.replace(
        account,
        invitations=tuple(dataclasses.replace(i, state="REVOKED") for i in account.invitations),
    )
    world.save(state)


def test_adopt_a_drifted_world_then_plan_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = adopt_co(tmp_path, capsys)
    code, out = run(capsys, "drift", "--sandbox-state", state, str(folder))
    assert code == EXIT_OK, out
    assert run(capsys, "adopt", "--sandbox-state", state, str(folder))[0] == EXIT_OK
    drift_the_world(state, capsys)
    code, out = run(capsys, "drift", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out

    before = (folder / "access.yaml").read_text(encoding="utf-8")
    code, out = run(capsys, "adopt", "--diff", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    assert '+      - {userId: "amzn1.account.ZED", role: viewer}' in out
    assert (folder / "access.yaml").read_text(encoding="utf-8") == before  # --diff writes nothing

    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    removed = [
        d[2:] for d in difflib.ndiff(before.splitlines(), after.splitlines()) if d[:2] == "- "
    ]
    added = [d[2:] for d in difflib.ndiff(before.splitlines(), after.splitlines()) if d[:2] == "+ "]
    # Only the lines that change, change: every other line is byte for byte what it was.
    assert removed == [
        "      - {id: ENTITYADOPT0002}",
        "      - {group: analysts, role: viewer}",
        "        role: viewer     # a viewer, for now",
        "      - {email: ivy@corp.example, role: viewer}   # invited",
    ]
    # bea was removed on this account only: an override here; the group stays the truth.
    assert added[:4] == [
        "      - group: analysts",
        "        role: viewer",
        "        overrides:  # reconciler adopt: live changed on this account only "
        f"(bea@corp.example is neither a user of {CO_AMC1} nor invited live)",
        '          - {userId: "amzn1.account.BEA", role: none}',
    ]
    assert added[4:] == [
        "        role: admin     # a viewer, for now",
        '      - {userId: "amzn1.account.ZED", role: viewer}  # adopted: live user shown as '
        '"z***@corp.example" (Amazon masks addresses)',
    ]
    # The other account keeps the shared group.
    assert after.endswith("      - {group: analysts, role: viewer}\n")

    code, out = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(folder))
    assert code == EXIT_OK, out
    assert "No changes." in out
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_OK and "Nothing to adopt." in out, out
    assert (folder / "access.yaml").read_text(encoding="utf-8") == after


def test_adopt_adds_a_pending_invitation_by_email(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = adopt_co(tmp_path, capsys)
    world = World.load(state)
    invitation = dataclasses.replace(
        world.amc[CO_AMC1].invitations[0], invitation_id="inv-eve", email="eve@corp.example"
    )
    world.amc[CO_AMC2] = dataclasses.replace(world.amc[CO_AMC2], invitations=(invitation,))
    world.save(state)
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    assert '      - {email: "eve@corp.example", role: viewer}  # adopted: invited live' in after
    code, out = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(folder))
    assert code == EXIT_OK, out


def test_adopt_never_writes_a_protected_user_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The break-glass admin removed in the console: adopt keeps the entry and says so, and
    apply restores them (an invitation, their address being known)."""
    state, folder = adopt_co(tmp_path, capsys)
    text = CO_MANIFEST.replace(
        "version: 1\n", "version: 1\npolicy:\n  protectedUsers: [vic@corp.example]\n", 1
    )
    (folder / "access.yaml").write_text(text, encoding="utf-8")
    code, out = run(
        capsys, "sandbox", "remove-user", "--sandbox-state", state, CO_AMC1, "amzn1.account.VIC"
    )
    assert code == EXIT_OK, out
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert "vic@corp.example is neither a user of" in out, out
    assert "but they are protected (policy.protectedUsers): not adopted, the entry stays" in out
    assert "vic@corp.example" in (folder / "access.yaml").read_text(encoding="utf-8")
    code, out = run(capsys, "plan", "--sandbox-state", state, str(folder))
    assert "+ invite vic@corp.example as viewer" in out, out


# --- the line editor: every kind of edit, in every layout, keeps the rest of the file --------


EVERY_EDIT_TEXT = (
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


EVERY_EDIT_WORLD = seed((AMC, [BOSS, ANN, VIC_ADMIN, ZED]), (AMC2, [BOSS, ANN, BEA]))


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_every_kind_of_edit_at_once_settles_and_keeps_the_line_endings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ending: str
) -> None:
    """A role change, a removal, an addition after the last entry and a group split in one
    file: the result validates, plans nothing, and adopt again is a no-op. With Windows line
    endings every line keeps `\\r\\n`: only the changed lines change."""
    text = EVERY_EDIT_TEXT.replace("\n", ending)
    state, folder = setup(tmp_path, capsys, EVERY_EDIT_WORLD, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder).decode()
    bare = after.replace(ending, "")
    assert "\n" not in bare and "\r" not in bare, after  # every line ends as it did
    assert "amzn1.account.ZED" in after and "GONE" not in after
    assert f"        role: admin{ending}" in after
    assert after.endswith(f"      - {{group: analysts, role: viewer}}{ending}")  # the other account
    settled(capsys, state, folder)


ZED_LINE = '{userId: "amzn1.account.ZED", role: viewer}  # adopted: live user shown as'
ZED_ADDED = f'      - {ZED_LINE} "z***@corp.example" (Amazon masks addresses)\n'
BOSS_LINE = "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
USERS_HEAD = f"version: 1\namcAccounts:\n  - id: {AMC}\n    users:\n"
NO_TRAILING_NEWLINE = {
    "addition-after-the-last-line": (
        USERS_HEAD + BOSS_LINE.rstrip("\n"),
        [BOSS, ZED],
        USERS_HEAD + BOSS_LINE + ZED_ADDED,
    ),
    "users-key-added-to-the-last-account": (
        f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0",
        [ZED],
        f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n    users:\n" + ZED_ADDED,
    ),
    "removing-the-last-entry": (
        USERS_HEAD
        + BOSS_LINE
        + "      - {email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}",
        [BOSS],
        USERS_HEAD + BOSS_LINE,
    ),
}


@pytest.mark.parametrize("case", sorted(NO_TRAILING_NEWLINE))
def test_edits_at_the_end_of_a_file_without_a_trailing_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """An addition after the last line, a `users:` key added to the last account, and the
    last entry removed: the edit is whole lines, and the file ends with a newline after."""
    text, live, expected = NO_TRAILING_NEWLINE[case]
    state, folder = setup(tmp_path, capsys, seed((AMC, live)), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    assert bytes_of(folder).decode() == expected
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


# Live: boss admin, ann promoted to admin, zed added, gone removed; adopt makes the three
# edits in every layout below, keeps every other field, and the result settles.
EDIT_WORLD = seed((AMC, [BOSS, {**ANN, "role": "ADMIN"}, ZED]))


EDIT_LAYOUTS = {
    "block-scalar-reason-with-blank-lines": USERS_HEAD
    + BOSS_LINE
    + "      - email: gone@corp.example\n"
    + "        role: viewer\n"
    + f"        expires: '{day(300)}'\n"
    + "        reason: |\n"
    + "          left the team\n"
    + "\n"
    + "      # ann, below\n"
    + "      - email: ann@corp.example\n"
    + "        userId: amzn1.account.ANN\n"
    + "        role: viewer\n"
    + f"        expires: '{day(300)}'\n"
    + "        reason: >-\n"
    + "          folded\n"
    + "          text\n",
    "keep-chomped-scalar-last-in-file": USERS_HEAD
    + BOSS_LINE
    + "      - email: ann@corp.example\n"
    + "        userId: amzn1.account.ANN\n"
    + "        role: viewer\n"
    + "      - email: gone@corp.example\n"
    + "        role: viewer\n"
    + f"        expires: '{day(300)}'\n"
    + "        reason: |+\n"
    + "          kept\n"
    + "\n"
    + "\n",
    "nel-ls-ps-in-quoted-names": USERS_HEAD
    + BOSS_LINE
    + '      - {email: gone@corp.example, name: "G\x85one", role: viewer}\n'
    + '      - name: "Ann\u2028Smith\u2029Jr"\n'
    + "        email: ann@corp.example\n"
    + "        userId: amzn1.account.ANN\n"
    + '        role: viewer   # "was" viewer?\n',
    "multi-line-flow-mappings": USERS_HEAD
    + BOSS_LINE
    + "      - {email: gone@corp.example,\n"
    + "         role: viewer}\n"
    + "      - {email: ann@corp.example, userId: amzn1.account.ANN,\n"
    + "         role: viewer}\n",
    "quoted-keys-and-values": USERS_HEAD
    + BOSS_LINE
    + "      - 'email': \"gone@corp.example\"\n"
    + "        \"role\": 'viewer'\n"
    + "      - \"email\": 'ann@corp.example'\n"
    + "        'userId': \"amzn1.account.ANN\"\n"
    + '        "role": "viewer"\n',
    "document-markers-and-comments": "# header\n%YAML 1.1\n---\n# after\n"
    + USERS_HEAD
    + BOSS_LINE
    + "      - {email: gone@corp.example, role: viewer}\n"
    + "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
    + "...\n# trailer\n",
    "nested-block-lists-last-in-entries": USERS_HEAD
    + BOSS_LINE
    + "      - email: gone@corp.example\n"
    + "        role: viewer\n"
    + "        notUserIds:\n"
    + "          - amzn1.account.OLD1\n"
    + "          # another, once\n"
    + "\n"
    + "          - amzn1.account.OLD2\n"
    + "      - email: ann@corp.example\n"
    + "        role: viewer\n"
    + "        userId: amzn1.account.ANN\n"
    + "        notUserIds:\n"
    + "        - amzn1.account.OLD3\n",
    "wide-dashes-and-deep-indent": f"version: 1\namcAccounts:\n-   id: {AMC}\n    users:\n"
    + "            -    email: boss@corp.example\n"
    + "                 userId: amzn1.account.BOSS\n"
    + "                 role: admin\n"
    + "            -    email: gone@corp.example\n"
    + "                 role: viewer\n"
    + "            -    {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n",
}


@pytest.mark.parametrize("name", sorted(EDIT_LAYOUTS))
@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("bom", [False, True], ids=["", "bom"])
def test_every_edit_in_unusual_layouts_settles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, ending: str, bom: bool
) -> None:
    text = ("\ufeff" if bom else "") + EDIT_LAYOUTS[name].replace("\n", ending)
    before = yaml.safe_load(text.removeprefix("\ufeff"))["amcAccounts"][0]["users"]
    state, folder = setup(tmp_path, capsys, EDIT_WORLD, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    raw = bytes_of(folder)
    assert raw.startswith(b"\xef\xbb\xbf") is bom
    after = raw.decode("utf-8").removeprefix("\ufeff")
    if ending != "\n":
        assert "\n" not in after.replace(ending, ""), after
    users = yaml.safe_load(after)["amcAccounts"][0]["users"]
    ann_before = next(u for u in before if u.get("userId") == "amzn1.account.ANN")
    ann = next(u for u in users if u.get("userId") == "amzn1.account.ANN")
    assert ann == {**ann_before, "role": "admin"}, after
    assert not any(u.get("email") == "gone@corp.example" for u in users), after
    assert {"userId": "amzn1.account.ZED", "role": "viewer"} in users, after
    assert len(users) == 3, after
    settled(capsys, state, folder)


GONE_ENTRIES = (
    "      - {email: gone@corp.example, role: viewer}\n"
    "      - email: went@corp.example   # [x]: y\n"
    "        role: viewer\n"
    "\n"
    "        # went's reason, below a blank line\n"
    f"        expires: '{day(300)}'\n"
    "        reason: |\n"
    "          moved on\n"
)


EMPTIED_KEYS = {
    "plain": ("    users:\n", "    users: []\n"),
    "comment": ("    users:   # both gone # really\n", "    users: []   # both gone # really\n"),
    "space-before-colon": ("    users :\n", "    users : []\n"),
    "double-quoted": ('    "users":\n', '    "users": []\n'),
    "single-quoted": ("    'users':  #c\n", "    'users': []  #c\n"),
}


@pytest.mark.parametrize("key", sorted(EMPTIED_KEYS))
@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_list_whose_every_entry_goes_becomes_an_empty_list_in_any_key_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, ending: str
) -> None:
    line, emptied = EMPTIED_KEYS[key]
    text = (
        f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n{line}{GONE_ENTRIES}"
        f"  - id: {AMC2}\n    users:\n      - {{email: boss@corp.example, role: admin}}\n"
    ).replace("\n", ending)
    world = seed((AMC, []), (AMC2, [BOSS]))
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder).decode()
    expected = (
        f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n{emptied}"
        f"  - id: {AMC2}\n    users:\n      - {{email: boss@corp.example, role: admin}}\n"
    ).replace("\n", ending)
    assert after == expected
    settled(capsys, state, folder)


NO_USERS_KEY_TAILS = {
    "policy-block-lists": "    policy:\n      allowedEmailDomains:\n        - corp.example\n"
    "        # more later\n\n",
    "policy-multi-line-flow": "    policy: {allowedEmailDomains: [corp.example,\n"
    "                                   other.example]}\n",
    "notes-in-block-scalar": "    minAdmins: 0\n    # |\n    #   not a scalar\n",
}


@pytest.mark.parametrize("tail", sorted(NO_USERS_KEY_TAILS))
def test_a_users_key_is_added_after_lists_and_flows_that_end_the_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tail: str
) -> None:
    text = (
        f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n"
        + NO_USERS_KEY_TAILS[tail].replace("    minAdmins: 0\n", "")
        + f"  - id: {AMC2}\n    users:\n      - {{email: boss@corp.example, role: admin}}\n"
    )
    state, folder = setup(
        tmp_path, capsys, seed((AMC, [ZED]), (AMC2, [BOSS])), {"access.yaml": text}
    )
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    doc = yaml.safe_load(bytes_of(folder))
    assert doc["amcAccounts"][0]["users"] == [{"userId": "amzn1.account.ZED", "role": "viewer"}]
    assert doc["amcAccounts"][1]["users"] == [{"email": "boss@corp.example", "role": "admin"}]
    settled(capsys, state, folder)


def test_lines_adopt_writes_never_end_with_nel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1  # access for the shop\x85"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    )
    state, folder = setup(
        tmp_path, capsys, seed((AMC, [BOSS, ZED]), (AMC2, [BOSS])), {"access.yaml": text}
    )
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder).decode()
    assert "amzn1.account.ZED" in after
    assert after.count("\x85") == 1, after


def test_flow_sequences_are_listed_never_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`users: [...]` and `linkedAccounts: [...]` written as flow sequences: a removal, an
    addition and a role change there are listed as not adopted, and the file is untouched."""
    text = (
        "version: 1\n"
        "managerAccounts:\n"
        f"  - {{name: Agency Co, id: {MANAGER}, linkedAccounts: [{{id: ENTITYAGENCY0001}}]}}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users: [{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin},\n"
        "            {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer},\n"
        "            {email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}]\n"
    )
    world = seed(
        (AMC, [BOSS, {**ANN, "role": "ADMIN"}, ZED]),
        accounts=[{"id": f"ENTITYAGENCY000{n}", "name": f"Shop {n}"} for n in (1, 2)],
        manager_accounts=[
            {"id": MANAGER, "name": "Agency Co", "type": "Agency", "links": ["ENTITYAGENCY0002"]}
        ],
    )
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_OK, out
    assert out.count("not adopted:") >= 4, out
    assert bytes_of(folder).decode() == text


# --- the file adopt writes keeps its mode and its symbolic link ------------------------------


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


# --- values from the API stay data: one scalar each, never a key, line or entry --------------


def test_values_from_the_api_stay_data_in_the_yaml_adopt_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = adopt_co(tmp_path, capsys)
    desired = load_manifests([str(folder)])
    with AdsClient(ApiConfig.sandbox(), transport=SandboxTransport(World.load(state))) as client:
        live = read_live(desired, client.reader(), now=time.time())
    evil = 'x"}\n  - {group: admins, role: admin}\u2028#'
    stranger = LiveUser(
        user_id=evil, email=evil + "@corp.example", role=Role.VIEWER, grant=Grant(Role.VIEWER)
    )
    amc = [
        dataclasses.replace(a, users=(*a.users, stranger)) if a.id == CO_AMC2 else a
        for a in live.accounts
    ]
    live = dataclasses.replace(live, accounts=tuple(amc))
    adoption = compute(desired, live, now=time.time())
    [edit] = adoption.files
    added = [line for line in edit.after.splitlines() if "adopted" in line]
    assert len(added) == 1 and "\u2028" not in added[0]
    doc = yaml.safe_load(edit.after)
    users = doc["amcAccounts"][1]["users"]
    assert users[-1] == {"userId": evil, "role": "viewer"}


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
        "  - name: Agency Co\n"
        f"    id: {MANAGER}\n"
        "    linkedAccounts:\n"
        "      - {id: ENTITYAGENCY0001}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    )
    world = seed(
        (AMC, [BOSS]),
        accounts=[
            {"id": "ENTITYAGENCY0001", "name": "Shop 1"},
            {"id": "ENTITYAGENCY0002", "name": EVIL},
        ],
        manager_accounts=[
            {
                "id": MANAGER,
                "name": "Agency Co",
                "type": "Agency",
                "links": ["ENTITYAGENCY0001", "ENTITYAGENCY0002"],
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
    assert after.startswith(text[: text.index("      - {id: ENTITYAGENCY0001}")])
    assert [line for line in text.splitlines() if line not in after.splitlines()] == []
    assert len(amc["users"]) == 3 and len(manager["linkedAccounts"]) == 2, after
    assert amc["users"][1]["userId"] == "amzn1.account." + EVIL
    assert amc["users"][2]["email"] == "o'b#\"r}],{i:@corp.example"
    settled(capsys, state, folder)


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
    return json.dumps(value)


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
    assert bytes_of(folder).decode() == text
    # Only the plan sees the domain Amazon shows for a user pinned by userId: its words,
    # the look-alike escaped.
    assert (
        f"not adopted: amc:{AMC}: nothing adopted there, because the edit would not pass the "
        f"manifests' own checks: {folder / 'access.yaml'}:8: live user amzn1.account.MAL "
        "(m***@\\u212acorp.example) is at \\u212acorp.example, not an allowed email domain of "
        f"AMC account {AMC} (corp.example, kcorp.example; policy.allowedEmailDomains at "
    ) in out, out
    assert "\u212a" not in out
    assert code == EXIT_OK


def test_links_in_other_regions_and_dsp_links_are_adopted_with_their_keys_and_settle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A link made live in the EU, a DSP advertiser linked live, and a listed link gone:
    the entries written carry `idType:`/`region:`, the gone one goes, and it settles."""
    text = (
        "version: 1\n"
        "managerAccounts:\n"
        "  - name: Agency Co   # the agency\n"
        f"    id: {MANAGER}\n"
        "    linkedAccounts:\n"
        "      - id: ENTITYAGENCY0001\n"
        "        region: NA   # home\n"
        "      - {id: ENTITYAGENCYGONE}\n"
    )
    world = seed(
        accounts=[
            {"id": "ENTITYAGENCY0001", "name": "Shop 1"},
            {"id": "ENTITYAGENCYGONE", "name": "Gone"},
            {"id": "ENTITYAGENCYEU01", "name": "Shop EU", "marketplace": "A1PA6795UKMFR9"},
            {
                "id": "ENTITYAGENCYDSP1",
                "name": "DSP # one",
                "type": "DSP_ADVERTISING_ACCOUNT",
                "dsp_advertiser_id": "5830000000001",
            },
        ],
        manager_accounts=[
            {
                "id": MANAGER,
                "name": "Agency Co",
                "type": "Agency",
                "links": ["ENTITYAGENCY0001", "ENTITYAGENCYEU01", "ENTITYAGENCYDSP1"],
            }
        ],
    )
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder).decode()
    assert after.startswith(text.replace("      - {id: ENTITYAGENCYGONE}\n", ""))
    [manager] = yaml.safe_load(after)["managerAccounts"]
    assert len(manager["linkedAccounts"]) == 3, after
    settled(capsys, state, folder)


# --- shared groups: a change on one account is an override there, the group stays the truth ---


def test_a_member_promoted_on_one_account_leaves_the_group_alone_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = adopt_co(tmp_path, capsys)
    for argv in (
        ("remove-user", CO_AMC2, "amzn1.account.BEA"),
        (
            "add-user",
            CO_AMC2,
            "bea@corp.example",
            "--role",
            "admin",
            "--user-id",
            "amzn1.account.BEA",
        ),
    ):
        assert run(capsys, "sandbox", *argv, "--sandbox-state", state)[0] == EXIT_OK
    before = (folder / "access.yaml").read_text(encoding="utf-8")
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    head = before.split(f"  - id: {CO_AMC2}")[0]
    assert after.startswith(head)  # the group and the first account: byte for byte
    assert after.endswith(
        "      - group: analysts\n"
        "        role: viewer\n"
        "        overrides:  # reconciler adopt: live changed on this account only "
        "(bea@corp.example is admin live)\n"
        '          - {userId: "amzn1.account.BEA", role: admin}\n'
    )
    code, out = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(folder))
    assert code == EXIT_OK, out
    # The group stays the source of truth: bea leaving it ends her access on both accounts,
    # the one where adopt recorded the console change included.
    left = after.replace("    - email: bea@corp.example\n      userId: amzn1.account.BEA\n", "")
    (folder / "access.yaml").write_text(left, encoding="utf-8")
    code, out = run(
        capsys, "plan", "--sandbox-state", state, "--max-removal-fraction", "1", str(folder)
    )
    assert code == EXIT_OK, out
    assert "revoke user b***@corp.example (amzn1.account.BEA, admin)" in out
    assert out.count("  - revoke user b***@corp.example (amzn1.account.BEA") == 2, out


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


# --- evidence: a masked fit, an expired grant or an expired invitation never changes access ---


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


@pytest.mark.parametrize(
    ("listed", "invited"),
    [
        ("      - {email: ann@corp.example, role: viewer}\n", "ann@corp.example admin"),
        ("", "old@corp.example viewer"),
    ],
    ids=["listed-its-role-not-adopted", "unlisted-not-added"],
)
def test_an_expired_invitation_changes_nothing_and_blocks_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listed: str, invited: str
) -> None:
    """An invitation that expired is no evidence: a listed person's entry keeps its role
    (not the invitation's), an unlisted one is not added, and the stranger beside them is
    still adopted."""
    email, role = invited.split()
    text = USERS_HEAD + BOSS_LINE + listed
    world = seed((AMC, [BOSS, ZED]))
    world["amc_accounts"][0]["invitations"] = [{"email": email, "role": role}]
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    [invitation] = World.load(state).amc[AMC].invitations
    expire = ("sandbox", "expire", AMC, invitation.invitation_id, "--sandbox-state", state)
    assert run(capsys, *expire)[0] == EXIT_OK
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder).decode()
    assert listed in after and after.count(email) == (1 if listed else 0), after
    assert "amzn1.account.ZED" in after
    assert after == text + ZED_ADDED


def test_an_invitation_raised_to_admin_outside_admin_groups_is_refused_by_validate(
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
    # The edit would make ann admin, which validate refuses: the account is left as it is,
    # with validate's own diagnostic (the stranger is not added either; the plan removes them).
    assert code == EXIT_OK, out
    assert bytes_of(folder).decode() == text
    assert (
        f"amc:{AMC}: nothing adopted there, because the edit would not pass the manifests' own "
        "checks: "
    ) in out, out
    assert (
        f"`ann@corp.example` is made admin of AMC account `{AMC}`, but only members of "
        "`admins` may be admins (policy.adminGroups at "
    ) in out, out


# --- prune: false and minAdmins: adopt never writes what validate or the plan refuses --------


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


LIVE_ADMINS_NOT_COUNTED = {
    # Live: boss removed in the console; amy and old (whose grant ended) are admins.
    # Adopting boss's removal leaves amy alone once the plan removes old: refused.
    "whose-grant-ended": (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    prune: false\n"
        "    minAdmins: 2\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: amy@corp.example, userId: amzn1.account.AMY, role: admin}\n"
        "      - {email: old@corp.example, userId: amzn1.account.OLD, role: admin, "
        f"expires: '{day(-1)}'}}\n",
        [AMY, {"email": "old@corp.example", "user_id": "amzn1.account.OLD", "role": "ADMIN"}],
    ),
    # Live: amy removed in the console, ann raised to admin there (the plan demotes her).
    # Amy's removal is not adopted: the account still lists her (through the group).
    "the-plan-demotes": (
        "version: 1\n"
        "policy:\n"
        "  adminGroups: [admins]\n"
        "groups:\n"
        "  admins:\n"
        "    - {email: boss@corp.example, userId: amzn1.account.BOSS}\n"
        "    - {email: amy@corp.example, userId: amzn1.account.AMY}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    prune: false\n"
        "    minAdmins: 2\n"
        "    users:\n"
        "      - {group: admins, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n",
        [BOSS, {**ANN, "role": "ADMIN"}],
    ),
}


@pytest.mark.parametrize("case", sorted(LIVE_ADMINS_NOT_COUNTED))
def test_prune_false_live_admins_the_plan_removes_or_demotes_are_not_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Under `prune: false` with minAdmins 2, a removal is adopted only if the admins the
    plan keeps still reach it: a live admin whose grant ended, or whom the plan demotes,
    does not count, so the file is left as it is."""
    text, live = LIVE_ADMINS_NOT_COUNTED[case]
    state, folder = setup(tmp_path, capsys, seed((AMC, live)), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code in (EXIT_OK, EXIT_CHANGES), out
    assert bytes_of(folder).decode() == text, out


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
        f"amc:{AMC}: nothing adopted there, because the edit would not pass the manifests' own "
        f"checks: {folder / 'access.yaml'}:3:5: AMC account `{AMC}` lists 0 admin(s) but "
        "minAdmins is 1: add an admin, or lower `minAdmins`"
    ) in out, out
    assert (folder / "access.yaml").read_text(encoding="utf-8") == text
    code, out = run(capsys, "validate", str(folder))
    assert code == EXIT_OK, out


# --- partial reads: nothing is adopted from a scope that may be incomplete -------------------


def adopt_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scope: str
) -> tuple[Any, str]:
    text = (
        "version: 1\n"
        "managerAccounts:\n"
        "  - name: Agency Co\n"
        f"    id: {MANAGER}\n"
        "    linkedAccounts:\n"
        "      - {id: ENTITYAGENCY0001}\n"
        "      - {id: ENTITYAGENCY0002}\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
    )
    world = seed(
        (AMC, [BOSS, ZED]),
        accounts=[{"id": f"ENTITYAGENCY000{n}", "name": f"Shop {n}"} for n in (1, 2, 3)],
        manager_accounts=[
            {
                "id": MANAGER,
                "name": "Agency Co",
                "type": "Agency",
                "links": ["ENTITYAGENCY0001", "ENTITYAGENCY0003"],
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
    assert all(("ENTITYAGENCY000" in a) is (touched == "amc") for a in adoption.adopted)
    [edit] = adoption.files
    if touched == "amc":
        assert "ann@" in edit.after and "ZED" not in edit.after
    else:
        assert "ENTITYAGENCY0002" in edit.after and "ENTITYAGENCY0003" not in edit.after


@pytest.mark.parametrize("scope", ["manager:*", f"manager:{MANAGER}"])
def test_a_manager_account_read_incompletely_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scope: str
) -> None:
    adoption, _ = adopt_partial(tmp_path, capsys, scope)
    assert any(MANAGER in line for line in adoption.skipped), adoption.skipped


# --- adopt --expiring: ending entries go, shared groups and validity stay --------------------


def test_merging_the_expiring_pull_request_ends_access_under_prune_false(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a `prune: false` account a deleted entry means "leave them alone", so adopt
    --expiring keeps each ending entry as the marker that ends it: a date still to come is
    brought to today, one passed is left. After the merge, apply removes both people, and
    adopt then lets the ended entries go."""
    seed = tmp_path / "seed.yaml"
    people = [("boss", "ADMIN"), ("tom", "VIEWER"), ("fay", "VIEWER"), ("amy", "VIEWER")]
    users = [
        {"email": f"{n}@corp.example", "user_id": f"amzn1.account.{n.upper()}", "role": r}
        for n, r in people
    ]
    seed.write_text(yaml.safe_dump({"amc_accounts": [{"id": CO_AMC1, "users": users}]}))
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed))[0] == EXIT_OK
    )
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 86_400))
    folder = tmp_path / "m"
    folder.mkdir()
    text = (
        "version: 1\n"
        "groups:\n"
        "  auditors:\n"
        f"    - {{email: amy@corp.example, userId: amzn1.account.AMY, expires: '{soon}'}}\n"
        "amcAccounts:\n"
        f"  - id: {CO_AMC1}\n"
        "    prune: false\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: tom@corp.example, userId: amzn1.account.TOM, role: viewer,"
        " expires: '2020-01-01'}\n"
        f"      - {{email: fay@corp.example, userId: amzn1.account.FAY, role: viewer,"
        f" expires: '{soon}'}}\n"
        "      - {group: auditors, role: viewer}\n"
    )
    (folder / "amc.yaml").write_text(text, encoding="utf-8")
    code, out = run(capsys, "adopt", "--expiring", str(folder))
    assert code == EXIT_CHANGES, out
    assert "kept as the marker that ends the access" in out
    today = time.strftime("%Y-%m-%d", time.gmtime())
    after = (folder / "amc.yaml").read_text(encoding="utf-8")
    assert after == text.replace(f"'{soon}'", f'"{today}"')
    apply = ("apply", "--sandbox-state", state, "--auto-approve", "--max-removal-fraction", "1")
    code, out = run(capsys, *apply, str(folder))
    assert code == EXIT_OK, out
    live = {u.user_id for u in World.load(state).amc[CO_AMC1].users}
    assert live == {"amzn1.account.BOSS"}
    assert run(capsys, "drift", "--sandbox-state", state, str(folder))[0] == EXIT_OK
    # Apply has revoked them: adopt (which reads live) lets the ended entries go.
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    assert "tom@corp.example expired on 2020-01-01 and has no access live any more" in out
    after = (folder / "amc.yaml").read_text(encoding="utf-8")
    assert "tom@" not in after and "fay@" not in after and "amy@" in after  # a group member
    assert run(capsys, "drift", "--sandbox-state", state, str(folder))[0] == EXIT_OK


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


def test_expiring_keeps_crlf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GONE_TEXT.replace("role: viewer}", f"role: viewer, expires: '{day(-1)}'}}")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "access.yaml").write_bytes(text.replace("\n", "\r\n").encode())
    code, out = run(capsys, "adopt", "--expiring", str(folder))
    assert code == EXIT_CHANGES, out
    lines = text.replace("\n", "\r\n").splitlines(keepends=True)
    assert bytes_of(folder).decode() == "".join(lines[:-1])


# --- custom permission sets: adopted exactly, on every kind that takes one --------------------

AD_SA = "amzn1.ads-account.g.adoptsa000000000000000001"
AD_DSP = "ENTITY1DSPADOPT1"
AD_OWNER = {"email": "owner@corp.example", "user_id": "amzn1.account.OWNER", "role": "ADMIN"}
AD_ANA = {"email": "ana@corp.example", "user_id": "amzn1.account.ANA", "role": "VIEWER"}


def ad_world(**people: list[dict[str, Any]]) -> dict[str, Any]:
    """A sponsored-ads and a DSP account, the owner admin of both; `people` adds users
    (`sa=[...]`, `dsp=[...]`)."""
    return {
        "accounts": [{"id": "ENTITYAGENCY0001", "name": "Shop 1"}],
        "manager_accounts": [],
        "ad_accounts": [
            {"id": AD_SA, "type": "sponsored-ads", "users": [AD_OWNER, *people.get("sa", [])]},
            {"id": AD_DSP, "type": "dsp", "users": [AD_OWNER, *people.get("dsp", [])]},
        ],
        "amc_accounts": [],
    }


def ad_manifest(sa: str = "", dsp: str = "", groups: str = "") -> str:
    owner = '      - {email: owner@corp.example, userId: "amzn1.account.OWNER", role: admin}\n'
    return (
        f"version: 1\n{groups}adAccounts:\n"
        f"  - id: {AD_SA}\n    type: sponsored-ads\n    users:\n{owner}{sa}"
        f"  - id: {AD_DSP}\n    type: dsp\n    users:\n{owner}{dsp}"
    )


def console(capsys: pytest.CaptureFixture[str], state: str, *argv: str) -> None:
    code, out = run(capsys, "sandbox", *argv, "--sandbox-state", state)
    assert code == EXIT_OK, out


def test_a_custom_set_with_countries_changed_in_the_console_is_adopted_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ana = '      - {email: ana@corp.example, userId: "amzn1.account.ANA", role: viewer}  # ana\n'
    text = ad_manifest(sa=ana)
    state, folder = setup(tmp_path, capsys, ad_world(sa=[AD_ANA]), {"access.yaml": text})
    console(
        capsys, state, "set-permissions", f"sponsored-ads:{AD_SA}", "amzn1.account.ANA",
        "reports_view,campaign_edit", "--countries", "US,CA",
    )  # fmt: skip
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "ana@corp.example is custom [campaign_edit, reports_view] in CA, US live" in out, out
    assert bytes_of(folder).decode() == text.replace(
        "role: viewer}",
        'permissions: ["campaign_edit", "reports_view"], countries: ["CA", "US"]}',
    )
    settled(capsys, state, folder)


def test_a_custom_set_changed_to_a_role_and_back_is_adopted_each_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A block entry: its grant lines are replaced, every other line kept byte for byte."""
    ana = (
        "      - email: ana@corp.example\n"
        '        userId: "amzn1.account.ANA"\n'
        "        permissions: [campaign_edit]\n"
        "        countries: [US]\n"
        "        name: Ana   # keep me\n"
    )
    text = ad_manifest(sa=ana)
    held = {**AD_ANA, "role": None, "permissions": ["campaign_edit"], "countries": ["US"]}
    state, folder = setup(tmp_path, capsys, ad_world(sa=[held]), {"access.yaml": text})
    settled(capsys, state, folder)
    account = f"sponsored-ads:{AD_SA}"
    console(capsys, state, "set-role", account, "amzn1.account.ANA", "editor", "--countries", "US")
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    as_role = text.replace(
        "        permissions: [campaign_edit]\n        countries: [US]\n",
        '        role: editor\n        countries: ["US"]\n',
    )
    assert bytes_of(folder).decode() == as_role
    settled(capsys, state, folder)
    console(capsys, state, "set-permissions", account, "amzn1.account.ANA", "campaign_edit",
            "--countries", "US")  # fmt: skip
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert bytes_of(folder).decode() == text.replace(
        "[campaign_edit]", '["campaign_edit"]'
    ).replace("[US]", '["US"]')
    settled(capsys, state, folder)


def test_a_dsp_custom_set_is_adopted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ana = '      - {userId: "amzn1.account.ANA", permissions: [reports_edit]}\n'
    text = ad_manifest(dsp=ana)
    held = {**AD_ANA, "role": None, "permissions": ["reports_edit"]}
    state, folder = setup(tmp_path, capsys, ad_world(dsp=[held]), {"access.yaml": text})
    settled(capsys, state, folder)
    console(capsys, state, "set-role", f"dsp:{AD_DSP}", "amzn1.account.ANA", "viewer")
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert bytes_of(folder).decode() == text.replace("permissions: [reports_edit]", "role: viewer")
    console(capsys, state, "set-permissions", f"dsp:{AD_DSP}", "amzn1.account.ANA",
            "reports_edit,campaign_edit")  # fmt: skip
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert bytes_of(folder).decode() == text.replace(
        "[reports_edit]", '["campaign_edit", "reports_edit"]'
    )
    settled(capsys, state, folder)


def test_a_stranger_with_a_custom_set_on_an_ad_account_is_added_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zed = {
        "email": "zed@corp.example",
        "user_id": "amzn1.account.ZED",
        "permissions": ["billing_view"],
        "countries": ["US", "MX"],
    }
    text = ad_manifest()
    state, folder = setup(tmp_path, capsys, ad_world(sa=[zed]), {"access.yaml": text})
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert (
        "added amzn1.account.ZED (shown as z***@corp.example, domain corp.example) as custom "
        f"[billing_view] in MX, US to {AD_SA}"
    ) in out, out
    diff = list(difflib.ndiff(text.splitlines(), bytes_of(folder).decode().splitlines()))
    assert [d for d in diff if d[:2] == "- "] == []
    assert [d[2:] for d in diff if d[:2] == "+ "] == [
        '      - {userId: "amzn1.account.ZED", permissions: ["billing_view"], countries: '
        '["MX", "US"]}  # adopted: live user shown as "z***@corp.example" (Amazon masks '
        "addresses)"
    ]
    settled(capsys, state, folder)


def test_a_group_members_custom_set_change_is_listed_one_by_one_on_that_account_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An override gives a role only; a member's custom set is written by listing the group
    one by one on this account, the group itself untouched (other accounts use it)."""
    groups = (
        "groups:\n"
        "  team:\n"
        '    - {email: ana@corp.example, userId: "amzn1.account.ANA"}\n'
        '    - {email: bob@corp.example, userId: "amzn1.account.BOB"}\n'
    )
    bob = {"email": "bob@corp.example", "user_id": "amzn1.account.BOB", "role": "VIEWER"}
    entry = "      - {group: team, role: viewer}\n"
    text = ad_manifest(sa=entry, dsp=entry, groups=groups)
    world = ad_world(sa=[AD_ANA, bob], dsp=[AD_ANA, bob])
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    settled(capsys, state, folder)
    console(capsys, state, "set-permissions", f"sponsored-ads:{AD_SA}", "amzn1.account.ANA",
            "reports_view", "--countries", "US")  # fmt: skip
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder).decode()
    assert after.startswith(text[: text.index("adAccounts:")])  # the group is untouched
    doc = yaml.safe_load(after)
    sa, dsp = doc["adAccounts"]
    assert sa["users"][1:] == [
        {
            "email": "ana@corp.example",
            "userId": "amzn1.account.ANA",
            "permissions": ["reports_view"],
            "countries": ["US"],
        },
        {"email": "bob@corp.example", "userId": "amzn1.account.BOB", "role": "viewer"},
    ]
    assert dsp["users"][1:] == [{"group": "team", "role": "viewer"}]
    settled(capsys, state, folder)


def test_an_ended_entry_whose_person_is_still_there_with_an_unmanaged_role_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ended entry is only dropped once nothing live is left of it: a person who still
    holds a role reconciler does not manage (EDITOR on AMC) keeps their marker, and the
    plan's own words say why."""
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        f"      - {{email: ann@corp.example, userId: amzn1.account.ANN, role: viewer, "
        f"expires: '{day(-3)}'}}\n"
    )
    state, folder = setup(
        tmp_path, capsys, seed((AMC, [BOSS, {**ANN, "role": "EDITOR"}])), {"access.yaml": text}
    )
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_OK, out
    assert bytes_of(folder).decode() == text
    assert (
        f"not adopted: amc:{AMC}: not adopted: {folder / 'access.yaml'}:6: ann@corp.example "
        f"expired on {day(-3)}"
    ) in out, out
    assert "which reconciler does not manage: remove them in the console" in out, out


@pytest.mark.parametrize(
    "entry",
    [
        "      - group: team\n        role: viewer\n        countries: [US]\n",
        "      - {group: team, role: viewer, countries: [US]}\n",
    ],
    ids=["block", "flow"],
)
def test_a_members_countries_changed_in_a_group_entry_with_countries_is_listed_one_by_one(
    entry: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An override gives a role and keeps the entry's countries: a member now viewer in no
    country cannot be written as one (the plan would still ask for viewer in US). The
    members are listed one by one on this account, each with what they hold."""
    groups = (
        "groups:\n"
        "  team:\n"
        '    - {email: ana@corp.example, userId: "amzn1.account.ANA"}\n'
        '    - {email: bob@corp.example, userId: "amzn1.account.BOB"}\n'
    )
    bob = {**AD_ANA, "email": "bob@corp.example", "user_id": "amzn1.account.BOB"}
    world = ad_world(sa=[{**AD_ANA, "countries": ["US"]}, {**bob, "countries": ["US"]}])
    text = ad_manifest(sa=entry, groups=groups)
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    settled(capsys, state, folder)
    console(capsys, state, "set-countries", f"sponsored-ads:{AD_SA}", "amzn1.account.ANA", "")
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    sa = yaml.safe_load(bytes_of(folder).decode())["adAccounts"][0]
    assert sa["users"][1:] == [
        {"email": "ana@corp.example", "userId": "amzn1.account.ANA", "role": "viewer"},
        {
            "email": "bob@corp.example",
            "userId": "amzn1.account.BOB",
            "role": "viewer",
            "countries": ["US"],
        },
    ]
    settled(capsys, state, folder)


def test_a_role_change_under_a_flow_group_entry_with_countries_keeps_its_countries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A one-line group entry is written again in block form to take `overrides:`: every
    key of it is kept, `countries: [...]` (a list, not a scalar) included."""
    groups = (
        "groups:\n"
        "  team:\n"
        '    - {email: ana@corp.example, userId: "amzn1.account.ANA"}\n'
        '    - {email: bob@corp.example, userId: "amzn1.account.BOB"}\n'
    )
    bob = {**AD_ANA, "email": "bob@corp.example", "user_id": "amzn1.account.BOB"}
    world = ad_world(sa=[{**AD_ANA, "countries": ["US"]}, {**bob, "countries": ["US"]}])
    entry = "      - {group: team, role: viewer, countries: [US]}  # the team\n"
    text = ad_manifest(sa=entry, groups=groups)
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    settled(capsys, state, folder)
    account = f"sponsored-ads:{AD_SA}"
    console(capsys, state, "set-role", account, "amzn1.account.ANA", "editor", "--countries", "US")
    code, out = adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    sa = yaml.safe_load(bytes_of(folder).decode())["adAccounts"][0]
    assert sa["users"][1] == {
        "group": "team",
        "role": "viewer",
        "countries": ["US"],
        "overrides": [{"userId": "amzn1.account.ANA", "role": "editor"}],
    }
    settled(capsys, state, folder)
