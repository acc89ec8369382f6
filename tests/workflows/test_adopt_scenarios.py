"""Issue #15 `reconciler adopt` through the CLI against the sandbox: a drifted world with a
shared group, a masked stranger, a promoted viewer, a revoked invitation and an unlinked
account becomes manifest edits; then `plan` is empty, untouched lines are byte for byte
what they were, and adopt again is a no-op."""

from __future__ import annotations

import dataclasses
import difflib
import time
from pathlib import Path

import pytest
import yaml

from reconciler.api import AdsClient, ApiConfig
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.live.read import read_live
from reconciler.manifest import load_manifests
from reconciler.model import LiveUser, Role
from reconciler.sandbox import SandboxTransport, World
from reconciler.workflows.adopt import compute
from tests.driver import run

AMC1, AMC2 = "ENTITYADOPTAMC01", "ENTITYADOPTAMC02"
MANAGER = "amzn1.ads1.ma1.ADOPT"

SEED = {
    "accounts": [
        {"id": "ENTITYADOPT0001", "name": "Shop One"},
        {"id": "ENTITYADOPT0002", "name": "Shop Two"},
        {"id": "ENTITYADOPT0003", "name": "Shop Three"},
    ],
    "manager_accounts": [
        {
            "id": MANAGER,
            "name": "Adopt Co",
            "links": ["ENTITYADOPT0001", "ENTITYADOPT0002", "ENTITYADOPT0003"],
        }
    ],
    "amc_accounts": [
        {
            "id": AMC1,
            "users": [
                {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"},
                {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "VIEWER"},
                {"email": "bea@corp.example", "user_id": "amzn1.account.BEA", "role": "VIEWER"},
                {"email": "vic@corp.example", "user_id": "amzn1.account.VIC", "role": "VIEWER"},
            ],
            "invitations": [{"email": "ivy@corp.example", "role": "viewer"}],
        },
        {
            "id": AMC2,
            "users": [
                {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"},
                {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "VIEWER"},
                {"email": "bea@corp.example", "user_id": "amzn1.account.BEA", "role": "VIEWER"},
            ],
        },
    ],
}

MANIFEST = f"""\
# Access for Adopt Co. Comments and layout must survive adopt.
version: 1

groups:
  analysts:   # shared by both AMC accounts
    - {{email: ann@corp.example, userId: amzn1.account.ANN}}
    - email: bea@corp.example
      userId: amzn1.account.BEA

managerAccounts:
  - name: Adopt Co
    id: {MANAGER}
    linkedAccounts:
      - {{id: ENTITYADOPT0001}}   # the first shop
      - {{id: ENTITYADOPT0002}}
      - {{id: ENTITYADOPT0003}}

amcAccounts:
  - id: {AMC1}
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}  # the boss
      - {{group: analysts, role: viewer}}
      - userId: amzn1.account.VIC
        email: vic@corp.example
        role: viewer     # a viewer, for now
      - {{email: ivy@corp.example, role: viewer}}   # invited
  - id: {AMC2}   # second account
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}
      - {{group: analysts, role: viewer}}
"""


def setup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, Path]:
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(SEED), encoding="utf-8")
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed))[0] == EXIT_OK
    )
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "access.yaml").write_text(MANIFEST, encoding="utf-8")
    return state, folder


def drift_the_world(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    def sandbox(*argv: str) -> None:
        code, out = run(capsys, "sandbox", *argv, "--sandbox-state", state)
        assert code == EXIT_OK, out

    # A viewer promoted in the console.
    sandbox("remove-user", AMC1, "amzn1.account.VIC")
    sandbox(
        "add-user", AMC1, "vic@corp.example", "--role", "admin", "--user-id", "amzn1.account.VIC"
    )
    # A stranger added (the API shows them masked), a group member removed on one account.
    sandbox(
        "add-user", AMC1, "zed@corp.example", "--role", "viewer", "--user-id", "amzn1.account.ZED"
    )
    sandbox("remove-user", AMC1, "amzn1.account.BEA")
    sandbox("unlink", MANAGER, "ENTITYADOPT0002")
    # The invitation revoked in the console.
    world = World.load(state)
    account = world.amc[AMC1]
    world.amc[AMC1] = dataclasses.replace(
        account,
        invitations=tuple(dataclasses.replace(i, state="REVOKED") for i in account.invitations),
    )
    world.save(state)


def test_adopt_a_drifted_world_then_plan_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys)
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
        f"(bea@corp.example is neither a user of {AMC1} nor invited live)",
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
    state, folder = setup(tmp_path, capsys)
    world = World.load(state)
    invitation = dataclasses.replace(
        world.amc[AMC1].invitations[0], invitation_id="inv-eve", email="eve@corp.example"
    )
    world.amc[AMC2] = dataclasses.replace(world.amc[AMC2], invitations=(invitation,))
    world.save(state)
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    assert '      - {email: "eve@corp.example", role: viewer}  # adopted: invited live' in after
    code, out = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(folder))
    assert code == EXIT_OK, out


def test_values_from_the_api_stay_data_in_the_yaml_adopt_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys)
    desired = load_manifests([str(folder)])
    with AdsClient(ApiConfig.sandbox(), transport=SandboxTransport(World.load(state))) as client:
        live = read_live(desired, client.reader(), now=time.time())
    evil = 'x"}\n  - {group: admins, role: admin}\u2028#'
    stranger = LiveUser(user_id=evil, email=evil + "@corp.example", role=Role.VIEWER)
    amc = [
        dataclasses.replace(a, users=(*a.users, stranger)) if a.id == AMC2 else a
        for a in live.amc_accounts
    ]
    live = dataclasses.replace(live, amc_accounts=tuple(amc))
    adoption = compute(desired, live, now=time.time())
    [edit] = adoption.files
    added = [line for line in edit.after.splitlines() if "adopted" in line]
    assert len(added) == 1 and "\u2028" not in added[0]
    doc = yaml.safe_load(edit.after)
    users = doc["amcAccounts"][1]["users"]
    assert users[-1] == {"userId": evil, "role": "viewer"}


def test_a_member_promoted_on_one_account_leaves_the_group_alone_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys)
    for argv in (
        ("remove-user", AMC2, "amzn1.account.BEA"),
        ("add-user", AMC2, "bea@corp.example", "--role", "admin", "--user-id", "amzn1.account.BEA"),
    ):
        assert run(capsys, "sandbox", *argv, "--sandbox-state", state)[0] == EXIT_OK
    before = (folder / "access.yaml").read_text(encoding="utf-8")
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    head = before.split(f"  - id: {AMC2}")[0]
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
    seed.write_text(yaml.safe_dump({"amc_accounts": [{"id": AMC1, "users": users}]}))
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
        f"  - id: {AMC1}\n"
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
    live = {u.user_id for u in World.load(state).amc[AMC1].users}
    assert live == {"amzn1.account.BOSS"}
    assert run(capsys, "drift", "--sandbox-state", state, str(folder))[0] == EXIT_OK
    # Apply has revoked them: adopt (which reads live) lets the ended entries go.
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    assert "tom@corp.example expired on 2020-01-01 and has no access live any more" in out
    after = (folder / "amc.yaml").read_text(encoding="utf-8")
    assert "tom@" not in after and "fay@" not in after and "amy@" in after  # a group member
    assert run(capsys, "drift", "--sandbox-state", state, str(folder))[0] == EXIT_OK


def test_adopt_never_writes_a_protected_user_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The break-glass admin removed in the console: adopt keeps the entry and says so, and
    apply restores them (an invitation, their address being known)."""
    state, folder = setup(tmp_path, capsys)
    text = MANIFEST.replace(
        "version: 1\n", "version: 1\npolicy:\n  protectedUsers: [vic@corp.example]\n", 1
    )
    (folder / "access.yaml").write_text(text, encoding="utf-8")
    code, out = run(
        capsys, "sandbox", "remove-user", "--sandbox-state", state, AMC1, "amzn1.account.VIC"
    )
    assert code == EXIT_OK, out
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert "vic@corp.example is neither a user of" in out, out
    assert "but they are protected (policy.protectedUsers): not adopted, the entry stays" in out
    assert "vic@corp.example" in (folder / "access.yaml").read_text(encoding="utf-8")
    code, out = run(capsys, "plan", "--sandbox-state", state, str(folder))
    assert "+ invite vic@corp.example as viewer" in out, out
