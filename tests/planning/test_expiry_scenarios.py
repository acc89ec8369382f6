"""Through the CLI against the sandbox: `expires:` on users and group members, in
plan, apply and drift; the drift classes in the plan file."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from reconciler.sandbox import World
from tests.driver import AMC, BOSS, run, seed_state

PAST = "2020-01-01"
BOSS_SEED = {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"}


def soon(days: float) -> str:
    """A date and time `days` from now, with its zone."""
    return datetime.fromtimestamp(time.time() + days * 86_400, UTC).isoformat(timespec="seconds")


def write(tmp_path: Path, doc: dict[str, Any], name: str = "m") -> str:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / "amc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return str(folder)


def account(users: list[dict[str, Any]], **groups: list[dict[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": 1}
    if groups:
        doc["groups"] = groups
    doc["amcAccounts"] = [{"id": AMC, "users": users}]
    return doc


def live_ids(state: str) -> set[str]:
    return {u.user_id for u in World.load(state).amc[AMC].users}


def test_past_and_future_expiry_on_users_and_group_members(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(
        tmp_path,
        capsys,
        [
            BOSS_SEED,
            {"email": "tom@corp.example", "user_id": "amzn1.account.TOM", "role": "VIEWER"},
            {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "VIEWER"},
            {"email": "fay@corp.example", "user_id": "amzn1.account.FAY", "role": "VIEWER"},
        ],
    )
    doc = account(
        [
            BOSS,
            {
                "userId": "amzn1.account.TOM",
                "role": "viewer",
                "expires": PAST,
                "reason": "contract ended",
            },
            {"userId": "amzn1.account.FAY", "role": "viewer", "expires": soon(5)},
            {"group": "auditors", "role": "viewer"},
            # Past and never live: never invited.
            {"email": "old@corp.example", "role": "viewer", "expires": PAST},
        ],
        auditors=[
            {"email": "ann@corp.example", "userId": "amzn1.account.ANN", "expires": PAST},
            {"email": "new@corp.example", "expires": soon(30)},
        ],
    )
    folder = write(tmp_path, doc)
    code, out = run(
        capsys, "drift", "--sandbox-state", state, "--max-removal-fraction", "1", folder
    )
    assert code == EXIT_CHANGES, out
    assert "expired on 2020-01-01 (" in out and "contract ended" in out
    assert "[grant expired]" in out and "[expiring soon]" in out
    assert "old@corp.example" not in out.split("Drift by class:")[0]  # never invited
    plan_file = tmp_path / "plan.json"
    code, out = run(
        capsys,
        "plan",
        "--sandbox-state",
        state,
        "--max-removal-fraction",
        "1",
        "--out",
        str(plan_file),
        folder,
    )
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    classes = [item["class"] for item in data["drift"]]
    assert classes.count("grant-expired") == 2  # tom and ann
    assert classes.count("expiring-soon") == 1  # fay; new@ is beyond 14 days
    assert {a["target"] for a in data["actions"] if a["kind"] == "revoke-user"} == {
        "amzn1.account.TOM",
        "amzn1.account.ANN",
    }
    # A wider window lists new@ too.
    code, out = run(capsys, "plan", "--sandbox-state", state, "--max-removals", "1", folder)
    # Expired removals are removals like any other for the guards.
    assert code == EXIT_ERROR and "REFUSED by 1 guard" in out and "max-removals" in out
    code, out = run(
        capsys,
        "plan",
        "--sandbox-state",
        state,
        "--max-removal-fraction",
        "1",
        "--expiring-within",
        "60",
        folder,
    )
    assert "new@corp.example expires on" in out
    code, out = run(
        capsys,
        "apply",
        "--sandbox-state",
        state,
        "--auto-approve",
        "--max-removal-fraction",
        "1",
        folder,
    )
    assert code == EXIT_OK, out
    assert live_ids(state) == {"amzn1.account.BOSS", "amzn1.account.FAY"}
    invited = {i.email for i in World.load(state).amc[AMC].invitations}
    assert invited == {"new@corp.example"}
    # Only what waits and what is coming: in sync.
    code, out = run(capsys, "drift", "--sandbox-state", state, "--show-waiting", folder)
    assert code == EXIT_OK, out
    assert "[expiring soon]" in out and "[waiting for acceptance]" in out


def test_an_expired_invitation_is_revoked_whatever_prune_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(tmp_path, capsys, [BOSS_SEED])
    carl: dict[str, Any] = {"email": "carl@corp.example", "role": "viewer", "expires": soon(3)}
    doc = account([BOSS, carl])
    doc["amcAccounts"][0]["prune"] = False
    folder = write(tmp_path, doc)
    assert run(capsys, "apply", "--sandbox-state", state, "--auto-approve", folder)[0] == EXIT_OK
    assert [i.email for i in World.load(state).amc[AMC].invitations] == ["carl@corp.example"]
    carl["expires"] = "2021-06-30T17:00:00+02:00"
    folder = write(tmp_path, doc)
    code, out = run(capsys, "drift", "--sandbox-state", state, folder)
    assert code == EXIT_CHANGES, out
    assert "revoke invitation of carl@corp.example" in out
    assert "expired on 2021-06-30 15:00 UTC" in out
    assert run(capsys, "apply", "--sandbox-state", state, "--auto-approve", folder)[0] == EXIT_OK
    assert {i.state for i in World.load(state).amc[AMC].invitations} == {"REVOKED"}
    assert run(capsys, "drift", "--sandbox-state", state, folder)[0] == EXIT_OK


@pytest.mark.parametrize("prune", [True, False])
def test_an_expired_entry_fitted_by_masked_address_only_is_removed(
    prune: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Amazon masks every address, so an unpinned expiry is always a masked fit: the ended
    entry is the only one the live user can be, and time ends the access whatever prune
    says."""
    andrew = {"email": "andrew@corp.example", "user_id": "amzn1.account.ANDREW", "role": "VIEWER"}
    state = seed_state(tmp_path, capsys, [BOSS_SEED, andrew])
    doc = account([BOSS, {"email": "andrew@corp.example", "role": "viewer", "expires": PAST}])
    doc["amcAccounts"][0]["prune"] = prune
    folder = write(tmp_path, doc)
    code, out = run(capsys, "drift", "--sandbox-state", state, folder)
    assert code == EXIT_CHANGES, out
    assert "[grant expired] amc:" in out and "revoke user a***@corp.example" in out
    assert run(capsys, "apply", "--sandbox-state", state, "--auto-approve", folder)[0] == EXIT_OK
    assert "amzn1.account.ANDREW" not in live_ids(state)
    assert run(capsys, "drift", "--sandbox-state", state, folder)[0] == EXIT_OK


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-12-31T17:00:00", "has a time but no zone"),
        ("next week", "is not a date or a date and time"),
    ],
)
def test_a_bad_expires_is_a_validate_error_with_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "amc.yaml").write_text(
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}\n"
        f"      - {{email: x@corp.example, role: viewer, expires: '{value}'}}\n",
        encoding="utf-8",
    )
    code, out = run(capsys, "validate", str(folder))
    assert code == EXIT_ERROR
    assert f"amc.yaml:6:56: `expires: {value}` {message}" in out, out


def test_reason_without_expires_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(
        tmp_path, account([BOSS, {"email": "x@corp.example", "role": "viewer", "reason": "x"}])
    )
    code, out = run(capsys, "validate", folder)
    assert code == EXIT_ERROR and "`reason:` says why access ends" in out, out


def test_adopt_expiring_removes_what_ends_soon_for_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    text = (
        "version: 1\n"
        "groups:\n"
        "  auditors:  # a week each\n"
        f"    - {{email: amy@corp.example, expires: '{soon(3)}'}}\n"
        "    - email: bo@corp.example\n"
        f"      expires: '{soon(90)}'\n"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, role: admin}  # stays\n"
        "      - {group: auditors, role: viewer}\n"
        f"      - {{email: old@corp.example, role: viewer, expires: {PAST}}}\n"
    )
    (folder / "amc.yaml").write_text(text, encoding="utf-8")
    code, out = run(capsys, "adopt", "--expiring", str(folder))
    assert code == EXIT_CHANGES, out
    after = (folder / "amc.yaml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True) if "amy@" not in line]
    kept = [line for line in kept if "old@" not in line]
    assert after == "".join(kept)
    code, out = run(capsys, "adopt", "--expiring", str(folder))
    assert code == EXIT_OK and "Nothing to adopt." in out, out


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_an_instant_outside_the_calendar_is_refused_by_every_command(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(tmp_path, capsys, [BOSS_SEED])
    folder = write(
        tmp_path, account([BOSS, {"email": "x@corp.example", "role": "viewer", "expires": value}])
    )
    where = f"{folder}/amc.yaml:10:14: `expires: {value}` is "
    for command in ("validate", "plan", "drift", "apply", "adopt"):
        extra = ("--auto-approve",) if command == "apply" else ()
        extra += ("--expiring",) if command == "adopt" else ()
        api = () if command == "validate" else ("--sandbox-state", state)
        code, out = run(capsys, command, *api, *extra, folder)
        assert code == EXIT_ERROR and where in out and "outside the calendar" in out, out


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31T23:59:59Z"])
def test_the_calendars_edges_are_planned_and_shown(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tom = {"email": "tom@corp.example", "user_id": "amzn1.account.TOM", "role": "VIEWER"}
    state = seed_state(tmp_path, capsys, [BOSS_SEED, tom])
    entry = {"email": "tom@corp.example", "userId": "amzn1.account.TOM", "expires": value}
    folder = write(tmp_path, account([BOSS, {**entry, "role": "viewer"}]))
    ended = value.startswith("0001")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--expiring-within", "9e9", folder)
    assert code == (EXIT_CHANGES if ended else EXIT_OK), out
    assert ("expired on 0001-01-01" if ended else "expires on 9999-12-31 23:59 UTC") in out
    code, out = run(capsys, "adopt", "--sandbox-state", state, "--expiring", folder)
    assert code in (EXIT_OK, EXIT_CHANGES) and "Traceback" not in out, out


def test_one_expired_last_admin_holds_that_account_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The only admin of one account has expired: that removal is held back there (drift,
    not a refusal of everything); the other account's expiry is applied."""
    other = "ENTITYWHO0000002"
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump(
            {
                "amc_accounts": [
                    {"id": AMC, "users": [BOSS_SEED]},
                    {
                        "id": other,
                        "users": [
                            BOSS_SEED,
                            {"email": "tom@corp.example", "user_id": "amzn1.account.TOM",
                             "role": "VIEWER"},
                        ],
                    },
                ]
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed))[0] == EXIT_OK
    )
    doc = {
        "version": 1,
        "amcAccounts": [
            {"id": AMC, "minAdmins": 0, "users": [{**BOSS, "expires": PAST}]},
            {"id": other, "users": [BOSS, {"email": "tom@corp.example",
             "userId": "amzn1.account.TOM", "role": "viewer", "expires": PAST}]},
        ],
    }  # fmt: skip
    folder = write(tmp_path, doc)
    code, out = run(capsys, "plan", "--sandbox-state", state, folder)
    assert code == EXIT_OK and "REFUSED" not in out, out
    assert (
        "held: revoking b***@corp.example (amzn1.account.BOSS) would leave no active admin" in out
    )
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", folder)
    assert "amzn1.account.TOM" not in {u.user_id for u in World.load(state).amc[other].users}
    assert "amzn1.account.BOSS" in live_ids(state)
    code, out = run(capsys, "drift", "--sandbox-state", state, folder)
    assert code == EXIT_CHANGES and "[kept back by a safety rule]" in out, out
