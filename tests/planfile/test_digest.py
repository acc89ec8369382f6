"""A saved plan applies only while it is exactly the plan of the apply's own inputs.

The attacks: a plan file edited after review (actions added, removed, re-targeted, re-roled,
re-labelled; the policy loosened; the digest or the bindings changed; the live snapshot
edited), with or without the digest recomputed by the attacker; manifests that mean something
else; another API account. Every one is refused with nothing written, checked in the served
sandbox's own request counters. The same manifests, reformatted, reordered or split over other
files, give the same digests and apply.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.errors import EXIT_ERROR, EXIT_OK
from reconciler.planfile.codec import decode
from reconciler.planfile.digest import plan_digest
from tests.chaos.harness import REPO, Served, serve

EXAMPLES = str(REPO / "examples" / "manifests")
DIGEST = re.compile(r"Plan digest: (sha256:[0-9a-f]{64})")


def cli(capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AMAZON_ADS_")}
    with (
        mock.patch.dict(os.environ, {**clean, **env}, clear=True),
        pytest.raises(SystemExit) as stop,
    ):
        main(list(argv))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out + err


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as running:
        yield running


@pytest.fixture(scope="module")
def saved_plan(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    served.control("reset")
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    env = dict(served.env)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AMAZON_ADS_")}
    with (
        mock.patch.dict(os.environ, {**clean, **env}, clear=True),
        pytest.raises(SystemExit) as stop,
    ):
        main(["plan", "--out", str(out), EXAMPLES])
    assert stop.value.code in (0, None)
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


# ---- the edits ------------------------------------------------------------------------------


def _actions(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [a for a in data["actions"] if a["kind"] == kind]


def add_invite(data: dict[str, Any], n: int) -> None:
    invite = copy.deepcopy(_actions(data, "invite")[0])
    invite.update(target=f"attacker{n}@evil.example", role="admin")
    data["actions"].insert(data["actions"].index(_actions(data, "invite")[0]) + 1, invite)


def remove_action(data: dict[str, Any], n: int) -> None:
    del data["actions"][n % len(data["actions"])]


def retarget_person(data: dict[str, Any], n: int) -> None:
    _actions(data, "invite")[0]["target"] = f"attacker{n}@evil.example"


def retarget_account(data: dict[str, Any], n: int) -> None:
    action = _actions(data, "set-role")[0]
    action["amcAccountId"] = f"ENTITYOTHER{n}"
    action["scope"] = f"amc:ENTITYOTHER{n}"


def retarget_manager(data: dict[str, Any], n: int) -> None:
    action = _actions(data, "disassociate")[0]
    action["manager"]["id"] = f"amzn1.ads1.ma1.other{n}"
    action["scope"] = f"manager:amzn1.ads1.ma1.other{n}"


def re_role(data: dict[str, Any], n: int) -> None:
    _actions(data, "invite")[0]["role"] = "admin"


def re_label(data: dict[str, Any], n: int) -> None:
    _actions(data, "revoke-user")[0]["label"] = f"someone-else{n}@example.com"


def loosen_policy(data: dict[str, Any], n: int) -> None:
    data["policy"]["maxRemovals"] = 1000 + n


def change_digest(data: dict[str, Any], n: int) -> None:
    data["planDigest"] = "sha256:" + f"{n:064x}"[-64:]


def change_identity(data: dict[str, Any], n: int) -> None:
    data["bindings"]["apiIdentity"] = f"client other{n} at https://advertising-api.amazon.com:443"


def change_manifests_digest(data: dict[str, Any], n: int) -> None:
    data["bindings"]["desiredDigest"] = "sha256:" + f"{n + 1:064x}"[-64:]


def edit_snapshot(data: dict[str, Any], n: int) -> None:
    users = data["live"]["amcAccounts"][0]["users"]
    users[n % len(users)]["role"] = (
        "admin" if users[n % len(users)]["role"] != "admin" else "viewer"
    )


def drop_from_snapshot(data: dict[str, Any], n: int) -> None:
    links = data["live"]["managerAccounts"][0]["links"]
    del links[n % len(links)]


EDITS: list[Callable[[dict[str, Any], int], None]] = [
    add_invite,
    remove_action,
    retarget_person,
    retarget_account,
    retarget_manager,
    re_role,
    re_label,
    loosen_policy,
    change_digest,
    change_identity,
    change_manifests_digest,
    edit_snapshot,
    drop_from_snapshot,
]


def reseal(data: dict[str, Any]) -> None:
    """What an attacker who read our code does next: recompute the digest and the summary."""
    plan = decode_unchecked(data)
    data["planDigest"] = plan_digest(plan)
    counts: dict[str, int] = {}
    for action in data["actions"]:
        counts[action["kind"]] = counts.get(action["kind"], 0) + 1
    data["summary"] = counts


def decode_unchecked(data: dict[str, Any]) -> Any:
    from reconciler.planfile.codec import _decode_action

    return [_decode_action(a) for a in data["actions"]]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(st.sampled_from(EDITS), min_size=1, max_size=3, unique=True),
    n=st.integers(min_value=0, max_value=10_000),
    resealed=st.booleans(),
)
def test_every_edit_of_a_saved_plan_is_refused_with_nothing_written(
    served: Served,
    saved_plan: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edits: list[Callable[[dict[str, Any], int], None]],
    n: int,
    resealed: bool,
) -> None:
    data = copy.deepcopy(saved_plan)
    # A removal goes last, so that it cannot take away what another edit needs.
    for edit in sorted(edits, key=lambda e: e is remove_action):
        if edit is not change_digest:
            edit(data, n)
    if resealed:
        reseal(data)
    if change_digest in edits:  # after the reseal, or the reseal would undo it
        change_digest(data, n)
    assume(data != saved_plan)  # an insert and a removal of the same action cancel out
    path = tmp_path / f"edited-{n}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    before = served.stats()["writes"]
    code, output = cli(capsys, dict(served.env), "apply", "--plan", str(path), EXAMPLES)
    assert code == EXIT_ERROR, output
    assert "Traceback" not in output
    assert served.stats()["writes"] == before  # the sandbox applied nothing


def test_a_plan_file_never_says_where_an_action_came_from(
    served: Served,
    saved_plan: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The planner marks each action with the manifest entry it came from (what adopt edits);
    a plan file never carries it, and one that claims it (an attacker steering what a later
    tool edits), even with the digest resealed, is refused with nothing written."""
    assert all("origin" not in a and "member" not in a for a in saved_plan["actions"])
    data = copy.deepcopy(saved_plan)
    action = _actions(data, "set-role")[0]
    action["origin"] = {"file": "teams/policy.yaml", "line": 3, "col": 1}
    action["member"] = "boss@corp.example"
    reseal(data)
    assert data["planDigest"] == saved_plan["planDigest"]  # origin is in no digest
    path = tmp_path / "origin.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    before = served.stats()["writes"]
    code, output = cli(capsys, dict(served.env), "apply", "--plan", str(path), EXAMPLES)
    assert code == EXIT_ERROR, output
    assert "Additional properties are not allowed ('member', 'origin' were unexpected)" in output
    assert "Traceback" not in output
    assert served.stats()["writes"] == before


def test_the_unedited_plan_applies_and_converges(
    served: Served,
    saved_plan: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(saved_plan), encoding="utf-8")
    # The world is still the one the plan was made on: every refusal above wrote nothing.
    try:
        code, output = cli(capsys, dict(served.env), "apply", "--plan", str(path), EXAMPLES)
        assert code == EXIT_OK, output
        assert "9 done (9 verified)" in output and "Converged" in output
        code, output = cli(capsys, dict(served.env), "plan", "--detailed-exitcode", EXAMPLES)
        assert code == EXIT_OK, output
    finally:
        served.control("reset")


# ---- manifests, formatting and API identity ----------------------------------------------


def sandbox_cli(capsys: pytest.CaptureFixture[str], state: Path, *argv: str) -> tuple[int, str]:
    return cli(capsys, {}, *argv[:1], "--sandbox-state", str(state), *argv[1:])


@pytest.fixture
def state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "sandbox.json"
    assert cli(capsys, {}, "sandbox", "reset", "--sandbox-state", str(path))[0] == EXIT_OK
    return path


def reshaped(tmp_path: Path) -> Path:
    """examples/manifests, meaning the same: flow style, keys and entries reordered, the AMC
    account's users split over two files through a group, comments gone."""
    root = tmp_path / "reshaped"
    root.mkdir()
    (root / "everything.yaml").write_text(
        """version: 1
groups:
  analysts: [{name: Carol, email: carol@example.com}, {name: Bob, email: bob@example.com}]
  admins:
    - {name: Alice, email: alice@example.com}
amcAccounts:
  - users:
      - {role: viewer, name: Frank, email: frank@example.com}
      - {role: viewer, group: analysts}
      - {role: admin, group: admins}
      - {userId: amzn1.account.ERIN0001, role: admin, email: erin@example.com, name: Erin}
    minAdmins: 1
    notify: true
    prune: true
    name: Acme AMC
    id: ENTITY1AA1AA11AAA1
""",
        encoding="utf-8",
    )
    shutil.copy(REPO / "examples" / "manifests" / "manager-accounts.yaml", root / "m.yaml")
    return root


def digests(text: str) -> list[str]:
    return DIGEST.findall(text)


def test_reformatted_reordered_split_manifests_give_the_same_digests_and_apply(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    code, out = sandbox_cli(capsys, state, "plan", "--out", str(plan_file), EXAMPLES)
    assert code == EXIT_OK
    other = reshaped(tmp_path)
    code, again = sandbox_cli(capsys, state, "plan", str(other))
    assert code == EXIT_OK and digests(out) == digests(again) and len(digests(out)) == 1
    saved = json.loads(plan_file.read_text(encoding="utf-8"))
    code, shown = cli(capsys, {}, "show", "--format", "json", str(plan_file))
    assert json.loads(shown)["bindings"] == saved["bindings"]
    code, output = sandbox_cli(capsys, state, "apply", "--plan", str(plan_file), str(other))
    assert code == EXIT_OK, output
    assert "Converged" in output
    code, output = sandbox_cli(capsys, state, "plan", "--detailed-exitcode", EXAMPLES)
    assert code == EXIT_OK, output


def test_manifests_that_mean_something_else_are_refused_listing_the_difference(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert sandbox_cli(capsys, state, "plan", "--out", str(plan_file), EXAMPLES)[0] == EXIT_OK
    main_now = tmp_path / "main"
    shutil.copytree(EXAMPLES, main_now)
    groups = main_now / "groups.yaml"
    # main moved on while the branch waited: carol is no longer wanted.
    groups.write_text(
        groups.read_text(encoding="utf-8").replace(
            "    - {email: carol@example.com, name: Carol}\n", ""
        ),
        encoding="utf-8",
    )
    before = state.read_bytes()
    code, output = sandbox_cli(capsys, state, "apply", "--plan", str(plan_file), str(main_now))
    assert code == EXIT_ERROR
    assert "the manifests given mean something else" in output
    assert "only in the saved plan: amc:ENTITY1AA1AA11AAA1: invite carol@example.com" in output
    assert "Nothing was applied" in output
    assert state.read_bytes() == before


def test_a_plan_for_another_api_account_is_refused(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert sandbox_cli(capsys, state, "plan", "--out", str(plan_file), EXAMPLES)[0] == EXIT_OK
    other = tmp_path / "other.json"
    shutil.copy(state, other)
    before = other.read_bytes()
    code, output = sandbox_cli(capsys, other, "apply", "--plan", str(plan_file), EXAMPLES)
    assert code == EXIT_ERROR
    assert (
        f"the plan was made for client amzn1.application-oa2-client.sandbox at sandbox:{state}"
        in output
    )
    assert other.read_bytes() == before


def test_apply_plan_requires_the_manifests(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    assert sandbox_cli(capsys, state, "plan", "--out", str(plan_file), EXAMPLES)[0] == EXIT_OK
    code, output = sandbox_cli(capsys, state, "apply", "--plan", str(plan_file))
    assert code == 64 and "Missing argument 'PATH...'" in output


def test_the_digest_is_the_same_in_another_process_at_another_time(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = sandbox_cli(capsys, state, "plan", EXAMPLES)
    assert code == EXIT_OK
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAZON_ADS_")}
    env["PYTHONHASHSEED"] = "12345"
    other = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--sandbox-state", str(state), EXAMPLES],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    assert digests(out) == digests(other.stdout) and len(digests(out)) == 1
    assert digests(out)[0] == decode_digest(tmp_path, capsys, state)


def decode_digest(tmp_path: Path, capsys: pytest.CaptureFixture[str], state: Path) -> str:
    plan_file = tmp_path / "again.json"
    assert sandbox_cli(capsys, state, "plan", "--out", str(plan_file), EXAMPLES)[0] == EXIT_OK
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    digest: str = data["planDigest"]
    assert plan_digest(decode(data, source="again.json").actions) == digest
    return digest
