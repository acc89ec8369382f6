"""People, not accounts, through the CLI against the sandbox: `access` (who holds what),
`offboard` (a person out of every manifest, then apply) and `review` (the access-review
pull request's edit)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.driver import day, run, seed, setup

ONE, TWO, OUTSIDE = "ENTITYPEOPLE0001", "ENTITYPEOPLE0002", "ENTITYPEOPLE0003"
MANAGER = "amzn1.ads1.ma1.people00000001"
BOSS = {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"}
ANA = {"email": "ana@corp.example", "user_id": "amzn1.account.ANA", "role": "VIEWER"}
ANA_ADMIN = {**ANA, "role": "ADMIN"}
STRANGER = {"email": "zed@elsewhere.example", "user_id": "amzn1.account.ZED", "role": "VIEWER"}

MANIFEST = f"""version: 1
groups:
  analysts:
    - {{email: ana@corp.example}}  # the data team
    - {{email: cy@corp.example}}
managerAccounts:
  - name: People Agency
    id: {MANAGER}
    prune: false
    linkedAccounts:
      - {{id: ENTITYAGENCY0001}}
amcAccounts:
  - id: {ONE}
    name: One AMC
    owners: ["@acme/one-owners"]
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}
      - {{group: analysts, role: viewer}}
  - id: {TWO}
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}
      - {{userId: amzn1.account.ANA, role: admin}}  # ana runs the clean room
"""


def world() -> dict[str, Any]:
    return seed(
        (ONE, [BOSS, ANA, STRANGER]),
        (TWO, [BOSS, ANA_ADMIN]),
        (OUTSIDE, [BOSS, ANA]),
        manager_accounts=[
            {
                "id": MANAGER,
                "name": "People Agency",
                "type": "Agency",
                "links": ["ENTITYAGENCY0001"],
            }
        ],
    )


def grants(capsys: pytest.CaptureFixture[str], state: str, folder: Path, *extra: str) -> Any:
    code, out = run(
        capsys, "access", "--sandbox-state", state, "--format", "json", *extra, str(folder)
    )
    assert code == 0, out
    return json.loads(out)["grants"]


def test_access_lists_a_console_stranger_as_live_only_and_a_grant_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": MANIFEST})
    rows = grants(capsys, state, folder)
    by = {(r["accountId"], r["userId"]): r for r in rows}
    zed = by[(ONE, "amzn1.account.ZED")]
    assert zed["source"] is None and zed["manifestEmail"] is None
    assert zed["accountKind"] == "amc" and zed["role"] == "viewer" and zed["state"] == "active"
    boss = by[(ONE, "amzn1.account.BOSS")]
    assert boss["source"] == f"{folder / 'access.yaml'}:17"
    assert boss["manifestEmail"] == "boss@corp.example" and boss["role"] == "admin"
    # ana on ONE: the group entry, matched by her masked address only: never attributed.
    ana = by[(ONE, "amzn1.account.ANA")]
    assert ana["source"] is None and ana["manifestEmail"] is None
    assert ana["note"] == f"fits {folder / 'access.yaml'}:18 by masked address only"
    # cy is invited on ONE (the plan has not run): nothing live, so no row.
    assert not [r for r in rows if r["email"] and r["email"].startswith("cy")]
    # ana on TWO: pinned, so the manifest's line is hers.
    assert by[(TWO, "amzn1.account.ANA")]["source"] == f"{folder / 'access.yaml'}:22"
    # The manager account's people reach its linked account.
    (inherited,) = [r for r in rows if r["via"]]
    assert inherited == {
        **inherited,
        "accountKind": "sponsored-ads",
        "accountId": "ENTITYAGENCY0001",
        "userId": None,
        "via": "manager account People Agency",
        "source": f"{folder / 'access.yaml'}:11",
    }
    # The account nobody manages is not listed.
    assert OUTSIDE not in {r["accountId"] for r in rows}


def test_access_for_one_person_takes_proof_not_a_fitting_mask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": MANIFEST})
    by_address = grants(capsys, state, folder, "--person", "ANA@corp.example")
    by_id = grants(capsys, state, folder, "--person", "amzn1.account.ANA")
    # By address: only where a pin proves it (TWO); ONE's a***@ fits, proves nothing.
    assert [(r["accountId"], r["userId"]) for r in by_address] == []
    assert {(r["accountId"], r["userId"]) for r in by_id} == {
        (ONE, "amzn1.account.ANA"),
        (TWO, "amzn1.account.ANA"),
    }


def test_access_in_csv_defuses_a_formula_and_markdown_escapes_a_hostile_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = {"email": "=HYPERLINK(1)@x.example", "user_id": "=cmd|calc", "role": "VIEWER"}
    state, folder = setup(
        tmp_path, capsys, seed((ONE, [BOSS, hostile]), (TWO, [BOSS])), {"access.yaml": MANIFEST}
    )
    code, out = run(capsys, "access", "--sandbox-state", state, "--format", "csv", str(folder))
    assert code == 0, out
    rows = list(csv.DictReader(io.StringIO(out)))
    (row,) = [r for r in rows if "cmd" in r["userId"]]
    assert row["userId"] == "'=cmd|calc"
    assert row["email"].startswith("'=")
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


def test_access_names_an_account_it_could_not_read_and_still_lists_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # TWO is not in the world: /amc/accounts does not list it.
    state, folder = setup(tmp_path, capsys, seed((ONE, [BOSS, ANA])), {"access.yaml": MANIFEST})
    code, out = run(capsys, "access", "--sandbox-state", state, str(folder))
    assert code == 1
    assert "amzn1.account.BOSS" in out
    assert f"Error: not read in full, grants may be missing: amc:{TWO}" in out


def test_access_masks_live_addresses_with_mask_emails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": MANIFEST})
    code, out = run(
        capsys, "access", "--sandbox-state", state, "--mask-emails", "--format", "csv", str(folder)
    )
    assert code == 0, out
    assert "zed@elsewhere.example" not in out
    assert "boss@corp.example" in out  # the manifests hold it: shown as written


def test_offboard_then_apply_leaves_no_access_anywhere_managed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": MANIFEST})
    code, out = run(capsys, "offboard", "--sandbox-state", state, "ana@corp.example", str(folder))
    assert code == 2, out
    text = (folder / "access.yaml").read_text(encoding="utf-8")
    assert "ana@corp.example" not in text and "# the data team" not in text
    assert "- {email: cy@corp.example}" in text
    assert "access.yaml:4: removed ana@corp.example from group analysts" in out
    # TWO's entry pins a userId that ana's address only fits masked: listed, not removed.
    assert "amzn1.account.ANA" in text
    assert (
        f"{folder / 'access.yaml'}:22: not removed: amzn1.account.ANA may be the same person "
        "(a masked address fits, which proves nothing): if it is, offboard "
        "amzn1.account.ANA too"
    ) in out
    assert OUTSIDE not in out  # a***@ there proves nothing about ana@
    code, out = run(capsys, "offboard", "--sandbox-state", state, "amzn1.account.ANA", str(folder))
    assert code == 2, out
    assert "amzn1.account.ANA" not in (folder / "access.yaml").read_text(encoding="utf-8")
    # Where a merge cannot reach: the account the manifests do not manage.
    assert (
        f"still live, a merge does not end it (the manifests do not manage this account): "
        f"AMC account {OUTSIDE} ({OUTSIDE}): a***@corp.example (amzn1.account.ANA), viewer, active"
    ) in out
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", str(folder))
    assert code == 0, out
    after = grants(capsys, state, folder, "--person", "amzn1.account.ANA")
    assert after == []
    code, out = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(folder))
    assert code == 0 and "No changes." in out, out
    code, out = run(capsys, "offboard", "--sandbox-state", state, "ana@corp.example", str(folder))
    assert code == 0 and "Nothing to change in the manifests." in out, out


def test_offboard_keeps_the_last_admin_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": MANIFEST})
    before = (folder / "access.yaml").read_bytes()
    code, out = run(
        capsys, "offboard", "--sandbox-state", state, "--diff", "amzn1.account.BOSS", str(folder)
    )
    assert (folder / "access.yaml").read_bytes() == before
    assert code == 2, out  # TWO keeps ana as admin: boss goes there
    assert "not removed:" in out and f"AMC account `{ONE}` lists 0 admin(s)" in out


def test_review_bumps_due_entries_and_lists_them_per_account_with_owners(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boss = "{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin"
    manifest = MANIFEST.replace("amcAccounts:", "policy: {reviewEvery: 90d}\namcAccounts:")
    # ONE's boss was reviewed ten days ago: not due.
    manifest = manifest.replace(
        f"{boss}}}\n      - {{group", f"{boss}, reviewed: {day(-10)}}}\n      - {{group"
    )
    state, folder = setup(tmp_path, capsys, world(), {"access.yaml": manifest})
    overdue = grants(capsys, state, folder, "--overdue")
    assert {(r["accountId"], r["userId"]) for r in overdue} == {
        (TWO, "amzn1.account.BOSS"),
        (TWO, "amzn1.account.ANA"),
    }  # ONE's boss was reviewed 10 days ago; ONE's ana is not proven, so not a grant row
    body = tmp_path / "body.md"
    code, out = run(capsys, "review", "--body", str(body), str(folder))
    assert code == 2, out
    text = body.read_text(encoding="utf-8")
    assert "### AMC account One AMC (ENTITYPEOPLE0001)" in text
    assert "Owners: &#64;acme/one\\_owners" in text or "Owners: &#64;acme/one-owners" in text
    assert (
        "- boss&#64;corp.example: admin (" in text
        and "access.yaml:22), last reviewed never" in text
    )
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    assert after.count(f'reviewed: "{day(0)}"') == 3
    code, out = run(capsys, "review", str(folder))
    assert code == 0 and "No access is due for review." in out, out
    assert grants(capsys, state, folder, "--overdue") == []


def test_plan_and_drift_list_a_due_review_in_its_own_class_not_as_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = f"""version: 1
policy: {{reviewEvery: 30d}}
amcAccounts:
  - id: {ONE}
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin, reviewed: {day(-31)}}}
"""
    state, folder = setup(tmp_path, capsys, seed((ONE, [BOSS])), {"access.yaml": manifest})
    code, out = run(capsys, "drift", "--sandbox-state", state, str(folder))
    assert code == 0, out  # in sync: a due review is not drift
    assert (
        "Access review due: 1 grant (not drift; `reconciler review` writes the pull request "
        "that records the review):\n"
        f"  [review due] AMC account {ONE}: boss@corp.example (admin) at "
        f"{folder / 'access.yaml'}:6"
    ) in out
    code, out = run(capsys, "plan", "--sandbox-state", state, "--format", "markdown", str(folder))
    assert code == 0 and "\\[review due\\]" in out, out
    code, out = run(capsys, "plan", "--sandbox-state", state, "--format", "json", str(folder))
    assert code == 0 and "review due" not in out


def test_access_shows_invitations_pending_and_expired_and_refuses_a_look_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = world()
    seeded["amc_accounts"][0]["invitations"] = [
        {"email": "cy@corp.example", "role": "viewer", "age_days": 1},
        {"email": "old@elsewhere.example", "role": "viewer", "age_days": 400},
    ]
    state, folder = setup(tmp_path, capsys, seeded, {"access.yaml": MANIFEST})
    rows = {r["email"]: r for r in grants(capsys, state, folder) if r["userId"] is None}
    cy = rows["cy@corp.example"]
    assert (cy["state"], cy["manifestEmail"], cy["group"]) == (
        "invited",
        "cy@corp.example",
        "analysts",
    )
    assert cy["source"] == f"{folder / 'access.yaml'}:18"
    old = rows["old@elsewhere.example"]
    assert (old["state"], old["source"]) == ("invitation expired", None)
    # A Cyrillic `а` is another mailbox: it names nobody here.
    assert grants(capsys, state, folder, "--person", "\u0430na@corp.example") == []
    assert grants(capsys, state, folder, "--person", "CY@corp.example") == [cy]
