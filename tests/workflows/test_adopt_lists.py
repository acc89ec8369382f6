"""`reconciler adopt` at the edges of a list, through the CLI against the sandbox:
an account or manager account that lists nobody (`users: []`, or no `users:` key at all)
gains the live entries; one whose every entry is gone live is left with `key: []` (a key
with no entries would be null, which no manifest allows); an account that adopting would
leave under its `minAdmins` is skipped on its own, with why, while the rest is adopted;
what the manifests' own policy forbids is never written."""

from __future__ import annotations

import difflib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.workflows.gate import Refused, settle
from tests.driver import run

AMC_EMPTY, AMC_ABSENT, AMC_GONE = "ENTITYLISTAMC01", "ENTITYLISTAMC02", "ENTITYLISTAMC03"
AMC_FLOOR, AMC_FLOW = "ENTITYLISTAMC04", "ENTITYLISTAMC05"
M_EMPTY, M_ABSENT, M_ONE = "amzn1.ads1.ma1.EMPTY", "amzn1.ads1.ma1.ABSENT", "amzn1.ads1.ma1.ONE"

BOSS = {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"}
ANN = {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "VIEWER"}

SEED = {
    "accounts": [
        {"id": f"ENTITYLIST000{n}", "name": f"Shop {n}"} for n in range(1, 5)
    ],
    "manager_accounts": [
        {"id": M_EMPTY, "name": "Empty Co", "type": "Agency",
         "links": ["ENTITYLIST0001", "ENTITYLIST0002"]},
        {"id": M_ABSENT, "name": "Absent Co", "type": "Agency", "links": ["ENTITYLIST0003"]},
        {"id": M_ONE, "name": "One Co", "type": "Agency", "links": []},
    ],
    "amc_accounts": [
        {"id": AMC_EMPTY, "users": [BOSS, ANN]},
        {"id": AMC_ABSENT, "users": [BOSS],
         "invitations": [{"email": "ivy@corp.example", "role": "viewer"}]},
        {"id": AMC_GONE, "users": []},
    ],
}  # fmt: skip

MANIFEST = f"""\
version: 1
managerAccounts:
  - name: Empty Co
    id: {M_EMPTY}
    linkedAccounts: []   # nothing yet
  - name: Absent Co    # no links listed

    id: {M_ABSENT}
    # the type, after a blank line and a comment
    type: Agency
  # the next manager account
  - name: One Co
    id: {M_ONE}
    linkedAccounts:
      - id: ENTITYLIST0004   # the only one

amcAccounts:
  - id: {AMC_EMPTY}
    minAdmins: 0
    users: []
  - id: {AMC_ABSENT}
    minAdmins: 0
    # nobody listed yet

  - id: {AMC_GONE}
    minAdmins: 0
    users:   # both removed in the console
      - {{email: gone@corp.example, userId: amzn1.account.GONE, role: viewer}}
      - {{email: went@corp.example, role: viewer}}
# the end
"""


MASKED = "(Amazon masks addresses)"
EXPECTED = f"""\
version: 1
managerAccounts:
  - name: Empty Co
    id: {M_EMPTY}
    linkedAccounts:   # nothing yet
      - {{id: "ENTITYLIST0001"}}  # adopted: linked live ("Shop 1")
      - {{id: "ENTITYLIST0002"}}  # adopted: linked live ("Shop 2")
  - name: Absent Co    # no links listed

    id: {M_ABSENT}
    # the type, after a blank line and a comment
    type: Agency
    linkedAccounts:
      - {{id: "ENTITYLIST0003"}}  # adopted: linked live ("Shop 3")
  # the next manager account
  - name: One Co
    id: {M_ONE}
    linkedAccounts: []

amcAccounts:
  - id: {AMC_EMPTY}
    minAdmins: 0
    users:
      - {{userId: "amzn1.account.ANN", role: viewer}}  # adopted: live user shown as "a***@corp.example" {MASKED}
      - {{userId: "amzn1.account.BOSS", role: admin}}  # adopted: live user shown as "b***@corp.example" {MASKED}
  - id: {AMC_ABSENT}
    minAdmins: 0
    users:
      - {{userId: "amzn1.account.BOSS", role: admin}}  # adopted: live user shown as "b***@corp.example" {MASKED}
      - {{email: "ivy@corp.example", role: viewer}}  # adopted: invited live, not accepted yet
    # nobody listed yet

  - id: {AMC_GONE}
    minAdmins: 0
    users: []   # both removed in the console
# the end
"""  # noqa: E501


def setup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: dict[str, object], manifest: str
) -> tuple[str, Path]:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(seed), encoding="utf-8")
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed_file))[0] == 0
    )
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "access.yaml").write_text(manifest, encoding="utf-8")
    return state, folder


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d[:2] == "- "], [d[2:] for d in diff if d[:2] == "+ "]


def test_adopt_fills_empty_and_absent_lists_and_empties_lists_gone_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, SEED, MANIFEST)
    code, out = run(capsys, "drift", "--sandbox-state", state, str(folder))
    assert code != EXIT_OK and "10 to" not in out and "Plan: 1 to associate" in out, out

    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    # Only the lines that change, change: new keys go at the end of their mapping, before
    # the comments and blank lines that lead the next entry; `[]` is kept where it is the
    # whole list and dropped where entries follow; comments on a key line stay.
    assert after == EXPECTED
    code, out = run(capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(folder))
    assert code == EXIT_OK, out
    assert "No changes." in out
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_OK and "Nothing to adopt." in out, out
    assert (folder / "access.yaml").read_text(encoding="utf-8") == after


FLOOR_SEED = {
    "accounts": [{"id": "ENTITYLIST0001", "name": "Shop 1"}],
    "amc_accounts": [
        {"id": AMC_FLOOR, "users": [ANN]},  # the boss was removed in the console
        {"id": AMC_FLOW, "users": [BOSS]},
        {"id": AMC_EMPTY, "users": [BOSS, ANN]},
    ],
}

FLOOR_MANIFEST = f"""\
version: 1
amcAccounts:
  - id: {AMC_FLOOR}
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}
      - {{email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}}
  - {{id: {AMC_FLOW}, minAdmins: 0, prune: true}}
  - id: {AMC_EMPTY}
    users:
      - {{email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}}
"""


def test_an_account_adopt_would_leave_under_min_admins_is_skipped_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, FLOOR_SEED, FLOOR_MANIFEST)
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_CHANGES, out
    assert (
        f"amc:{AMC_FLOOR}: nothing adopted there, because the edit would not pass the manifests' "
        f"own checks: {folder / 'access.yaml'}:3:5: AMC account `{AMC_FLOOR}` lists 0 admin(s) "
        "but minAdmins is 1: add an admin, or lower `minAdmins`"
    ) in out
    # A flow mapping cannot grow a `users:` key line by line: skipped, with the fix.
    assert "write `users: []` in it, then adopt again" in out
    after = (folder / "access.yaml").read_text(encoding="utf-8")
    removed, added = changed_lines(FLOOR_MANIFEST, after)
    assert removed == []
    assert added == [
        '      - {userId: "amzn1.account.ANN", role: viewer}  # adopted: live user shown as '
        '"a***@corp.example" (Amazon masks addresses)'
    ]
    code, out = run(capsys, "adopt", "--diff", "--sandbox-state", state, str(folder))
    assert code == EXIT_OK and "Nothing to adopt." in out, out


POLICY_SEED = {
    "accounts": [{"id": "ENTITYLIST0001", "name": "Shop 1"}],
    "amc_accounts": [
        {
            "id": AMC_EMPTY,
            "users": [
                BOSS,
                {**ANN, "role": "ADMIN"},  # promoted in the console, not in `admins`
                {"email": "zed@gmail.com", "user_id": "amzn1.account.ZED", "role": "VIEWER"},
                {"email": "mal@corp.example", "user_id": "amzn1.account.MAL", "role": "ADMIN"},
                {"email": "val@corp.example", "user_id": "amzn1.account.VAL", "role": "VIEWER"},
            ],
            "invitations": [
                {"email": "out@gmail.com", "role": "viewer"},
                {"email": "kim@corp.example", "role": "viewer"},
            ],
        },
        {
            "id": AMC_ABSENT,
            "users": [BOSS],
            # A look-alike: Cyrillic "а" in a Latin name. validate refuses mixed scripts.
            "invitations": [{"email": "p\u0430ul@corp.example", "role": "viewer"}],
        },
    ],
}

POLICY_MANIFEST = f"""\
version: 1
policy:
  allowedEmailDomains: [corp.example]
  adminGroups: [admins]
groups:
  admins:
    - {{email: boss@corp.example, userId: amzn1.account.BOSS}}
amcAccounts:
  - id: {AMC_EMPTY}
    users:
      - {{group: admins, role: admin}}
      - {{email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}}
  - id: {AMC_ABSENT}
    users:
      - {{group: admins, role: admin}}
"""


def test_adopt_never_writes_what_the_manifests_own_policy_forbids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Console changes outside the policy (a stranger at another domain, an admin outside
    `adminGroups`, a promotion, a look-alike address) are never written: the edit of their
    account does not pass validate, so nothing is adopted there, listed with validate's own
    diagnostics, and the file is left as it was."""
    state, folder = setup(tmp_path, capsys, POLICY_SEED, POLICY_MANIFEST)
    code, out = run(capsys, "adopt", "--sandbox-state", state, str(folder))
    assert code == EXIT_OK, out
    path = folder / "access.yaml"
    for refused in (
        f"amc:{AMC_EMPTY}: nothing adopted there, because the edit would not pass the "
        f"manifests' own checks: {path}:12:9: `ann@corp.example` is made admin of AMC account "
        f"`{AMC_EMPTY}`, but only members of `admins` may be admins (policy.adminGroups at ",
        # Lines of the edited text (with the entries adopt would have added):
        "`out@gmail.com` is not at an allowed email domain of AMC account "
        f"`{AMC_EMPTY}` (corp.example; policy.allowedEmailDomains at ",
        f"`amzn1.account.MAL` is made admin of AMC account `{AMC_EMPTY}`, but only "
        "members of `admins` may be admins",
        f"amc:{AMC_ABSENT}: nothing adopted there, because the edit would not pass the "
        "manifests' own checks:",
    ):
        assert refused in out, out
    assert "address p\\u0430ul@corp.example mixes scripts: Cyrillic, Latin" in out, out
    assert "\u0430" not in out  # the look-alike is only ever shown escaped
    assert path.read_text(encoding="utf-8") == POLICY_MANIFEST
    # Nothing was adopted: the plan still puts every console change back.
    code, out = run(capsys, "plan", "--sandbox-state", state, "--format", "json", str(folder))
    document, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])  # then its refusal
    assert sorted((a["kind"], a["target"]) for a in document["actions"]) == [
        ("revoke-invitation", "sandbox-invitation-000001"),
        ("revoke-invitation", "sandbox-invitation-000002"),
        ("revoke-invitation", "sandbox-invitation-000003"),
        ("revoke-user", "amzn1.account.MAL"),
        ("revoke-user", "amzn1.account.VAL"),
        ("revoke-user", "amzn1.account.ZED"),
        ("set-role", "amzn1.account.ANN"),
    ]


def test_adopt_expiring_keeps_the_last_admin_and_empties_a_list_it_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The nightly expiring pull request: a removal that would take an account under its
    minAdmins is not made (the reviewer is told to add an admin or move the date), the rest
    is; an account whose every entry ends is left with `users: []`."""
    past = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86_400))
    soon = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 3 * 86_400))
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {AMC_FLOOR}\n"
        "    users:\n"
        f"      - {{email: alice@corp.example, role: admin, expires: {past}}}  # the only admin\n"
        f"      - {{email: bob@corp.example, role: viewer, expires: {soon}}}\n"
        "      - {email: cat@corp.example, role: viewer}\n"
        f"  - id: {AMC_GONE}\n"
        "    minAdmins: 0\n"
        "    users:   # a project that ends\n"
        f"      - {{email: dan@corp.example, role: viewer, expires: {soon}}}\n"
    )
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "amc.yaml").write_text(text, encoding="utf-8")
    code, out = run(capsys, "adopt", "--expiring", str(folder))
    assert code == EXIT_CHANGES, out
    assert (
        f"not adopted: {folder / 'amc.yaml'}:5: alice@corp.example expired on {past}: not "
        "removed, because the manifests would not pass their own checks without it: "
    ) in out
    assert (
        "lists 0 admin(s) but minAdmins is 1: add an admin, or lower `minAdmins` (or move " in out
    )
    after = (folder / "amc.yaml").read_text(encoding="utf-8")
    assert after == (
        text.replace(f"      - {{email: bob@corp.example, role: viewer, expires: {soon}}}\n", "")
        .replace(f"      - {{email: dan@corp.example, role: viewer, expires: {soon}}}\n", "")
        .replace("    users:   # a project that ends", "    users: []   # a project that ends")
    )
    code, out = run(capsys, "adopt", "--expiring", "--diff", str(folder))
    assert code == EXIT_OK and "Nothing to adopt." in out, out


@given(
    st.integers(min_value=1, max_value=64).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), max_size=4))
    )
)
def test_settle_finds_exactly_the_bad_units_in_few_checks(case: tuple[int, set[int]]) -> None:
    """A check fails when any unit it is given is bad (as a look-alike address fails the
    whole load): `_settle` keeps every good unit, names every bad one with its own refusal,
    and costs about 2 k log2(n) checks for k bad units among n, never one per unit."""
    n, bad = case
    calls = 0

    def check(chosen: Sequence[int]) -> None:
        nonlocal calls
        calls += 1
        found = sorted(set(chosen) & bad)
        if found:
            raise Refused("bad", [f"unit {u}" for u in found])

    accepted, refused = settle(list(range(n)), check)
    assert accepted == [u for u in range(n) if u not in bad]
    assert [(u, exc.problems) for u, exc in refused] == [(u, (f"unit {u}",)) for u in sorted(bad)]
    # Halving, then one check of what passed in several pieces, together.
    assert calls <= 2 + 2 * len(bad) * max(1, math.ceil(math.log2(n)))
