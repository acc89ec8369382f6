"""A plan file holding every kind of account (manager, sponsored-ads, DSP, AMC), made by the
CLI against the sandbox: it round-trips exactly, each kind's actions are in the digest, and
a file tampered to grant what a kind does not take (a permission of another kind, countries
where the kind takes none) is refused by `show` and `apply --plan` with nothing written,
whether or not the attacker recomputed the digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import EXIT_ERROR, EXIT_OK
from reconciler.planfile.codec import _decode_action, encode, read
from reconciler.planfile.digest import plan_digest
from tests.driver import run, setup
from tests.planning.test_kinds_scenarios import ANA, SCOPES, cli, manifest, world

ZED = "amzn1.account.ZED"
# Every kind changes: ana is raised on the manager and AMC accounts, narrowed to the US on
# the sponsored-ads account, given a custom set on the DSP account; bo is invited to each;
# zed, whom nobody lists, is revoked from the DSP account.
ENTRIES = {
    "manager": [f'{{email: ana@acme.example, userId: "{ANA}", role: admin}}'],
    "sponsored-ads": [
        f'{{email: ana@acme.example, userId: "{ANA}", role: viewer, countries: [US]}}'
    ],
    "dsp": [f'{{email: ana@acme.example, userId: "{ANA}", permissions: [reports_edit]}}'],
    "amc": [f'{{email: ana@acme.example, userId: "{ANA}", role: admin}}'],
}
BO = "{email: bo@acme.example, role: viewer}"


@pytest.fixture
def saved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, Path, Path]:
    """(sandbox state, manifests folder, plan file) of a plan that changes every kind."""
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    zed = {"email": "zed@acme.example", "user_id": ZED, "role": "VIEWER"}
    people = {kind: [ana] for kind in SCOPES}
    people["dsp"] = [ana, zed]
    entries = {kind: [*listed, BO] for kind, listed in ENTRIES.items()}
    state, folder = setup(tmp_path, capsys, world(people), {"m.yaml": manifest(entries)})
    path = tmp_path / "plan.json"
    code, out = cli(capsys, state, "plan", "--out", str(path), str(folder))
    assert code == EXIT_OK, out
    return state, folder, path


def _action(data: dict[str, Any], kind: str, account: str) -> dict[str, Any]:
    (found,) = [
        a
        for a in data["actions"]
        if a["kind"] == kind and a["account"] == f"{account}:{SCOPES[account]}"
    ]
    return found


def _reseal(data: dict[str, Any]) -> None:
    """What an attacker who read our code does after an edit: recompute the digest."""
    data["planDigest"] = plan_digest(tuple(_decode_action(a) for a in data["actions"]))


def test_a_plan_file_of_every_kind_round_trips_exactly(saved: tuple[str, Path, Path]) -> None:
    _, _, path = saved
    data = json.loads(path.read_text(encoding="utf-8"))
    by_kind = {a["account"].split(":")[0] for a in data["actions"]}
    assert by_kind == set(SCOPES)
    assert encode(read(path)) == data
    sa = _action(data, "set-role", "sponsored-ads")
    assert (sa["role"], sa["countries"], sa["oldRole"], sa["oldCountries"]) == (
        "viewer",
        ["US"],
        "viewer",
        [],
    )
    dsp = _action(data, "set-role", "dsp")
    assert (dsp["role"], dsp["permissions"], dsp["oldRole"]) == (None, ["reports_edit"], "viewer")
    assert _action(data, "revoke-user", "dsp")["target"] == ZED


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_each_kinds_actions_are_in_the_digest(
    saved: tuple[str, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    """bo invited as admin instead of viewer, on one kind of account: the digest no longer
    holds, and `show` says so."""
    _, _, path = saved
    data = json.loads(path.read_text(encoding="utf-8"))
    _action(data, "invite", kind)["role"] = "admin"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data), encoding="utf-8")
    code, out = run(capsys, "show", str(edited))
    assert code == EXIT_ERROR
    assert "the actions do not match the plan digest" in out and "Traceback" not in out


def _refused(
    capsys: pytest.CaptureFixture[str],
    saved: tuple[str, Path, Path],
    data: dict[str, Any],
    tmp_path: Path,
) -> str:
    """`show` and `apply --plan` of the edited file: both refuse, nothing is written; the
    refusal's text."""
    state, folder, _ = saved
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data), encoding="utf-8")
    before = Path(state).read_bytes()
    code, shown = run(capsys, "show", str(edited))
    assert code == EXIT_ERROR, shown
    code, applied = cli(capsys, state, "apply", "--plan", str(edited), str(folder))
    assert code == EXIT_ERROR, applied
    assert Path(state).read_bytes() == before
    assert "Traceback" not in shown + applied
    return shown


@pytest.mark.parametrize("resealed", [False, True])
@pytest.mark.parametrize(
    ("names", "problem"),
    [
        # user_edit is a sponsored-ads permission: on a DSP account it is no permission at all
        (
            ["reports_edit", "user_edit"],
            "a DSP account takes no custom permission 'user_edit' (it takes campaign_edit, "
            "creatives_edit, reports_edit, reports_limited)",
        ),
        (
            ["admin"],
            "a DSP account takes no custom permission 'admin' (it takes campaign_edit, "
            "creatives_edit, reports_edit, reports_limited)",
        ),
    ],
)
def test_a_hostile_permission_name_for_a_dsp_account_is_refused(
    saved: tuple[str, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    names: list[str],
    problem: str,
    resealed: bool,
) -> None:
    data = json.loads(saved[2].read_text(encoding="utf-8"))
    _action(data, "set-role", "dsp")["permissions"] = names
    if resealed:
        _reseal(data)
    shown = _refused(capsys, saved, data, tmp_path)
    assert f"(set-role {ANA}): the new grant: {problem}" in shown


def test_a_permission_name_outside_the_plan_files_alphabet_is_refused_by_the_schema(
    saved: tuple[str, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(saved[2].read_text(encoding="utf-8"))
    _action(data, "set-role", "dsp")["permissions"] = [
        "reports_edit\x1b]8;;https://evil.example\x07"
    ]
    _reseal(data)
    shown = _refused(capsys, saved, data, tmp_path)
    assert "is not a valid plan file (was it edited by hand?)" in shown
    assert "\x1b" not in shown and "\x07" not in shown


@pytest.mark.parametrize("resealed", [False, True])
@pytest.mark.parametrize(
    ("kind", "action", "noun"),
    [
        ("dsp", "set-role", "a DSP account"),
        ("manager", "set-role", "a manager account"),
        ("amc", "set-role", "an AMC account"),
        ("dsp", "invite", "a DSP account"),
        ("manager", "invite", "a manager account"),
        ("amc", "invite", "an AMC account"),
    ],
)
def test_countries_on_a_kind_that_takes_none_are_refused(
    saved: tuple[str, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    action: str,
    noun: str,
    resealed: bool,
) -> None:
    data = json.loads(saved[2].read_text(encoding="utf-8"))
    _action(data, action, kind)["countries"] = ["US"]
    if resealed:
        _reseal(data)
    shown = _refused(capsys, saved, data, tmp_path)
    which = "the new grant" if action == "set-role" else "the grant"
    assert f": {which}: {noun} takes no countries (only sponsored-ads accounts do)" in shown


@pytest.mark.parametrize("kind", ["dsp", "manager", "amc"])
def test_countries_held_on_a_kind_that_takes_none_are_refused(
    saved: tuple[str, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    """The grant a change starts from is checked too: a removal described as of a grant in
    countries the kind has none of is not a plan this reconciler made."""
    data = json.loads(saved[2].read_text(encoding="utf-8"))
    _action(data, "set-role", kind)["oldCountries"] = ["US"]
    _reseal(data)
    shown = _refused(capsys, saved, data, tmp_path)
    assert "the held grant: " in shown and "takes no countries" in shown


def test_the_unedited_plan_of_every_kind_applies_and_converges(
    saved: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder, path = saved
    code, out = cli(capsys, state, "apply", "--plan", str(path), str(folder))
    assert code == EXIT_OK, out
    assert "Converged" in out
    code, out = cli(capsys, state, "plan", "--detailed-exitcode", str(folder))
    assert code == EXIT_OK and "No changes." in out, out


@pytest.mark.parametrize(
    ("kind", "action", "edit", "problem"),
    [
        (
            "manager",
            "invite",
            {"role": None, "permissions": ["campaign_edit"]},
            "the grant: a manager account takes no custom permission 'campaign_edit'",
        ),
        ("amc", "set-role", {"role": "editor"}, "the new grant: an AMC account has no role editor"),
        (
            "sponsored-ads",
            "invite",
            {"countries": ["XX"]},
            "the grant: 'XX' is not a country code of S-UPM's CountryCode",
        ),
        (
            "dsp",
            "invite",
            {"permissions": ["campaign_edit"]},
            "the grant: a grant is a role or a custom permission set, not both or neither",
        ),
    ],
)
def test_a_grant_its_kind_of_account_does_not_take_is_refused(
    saved: tuple[str, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    action: str,
    edit: dict[str, Any],
    problem: str,
) -> None:
    data = json.loads(saved[2].read_text(encoding="utf-8"))
    _action(data, action, kind).update(edit)
    _reseal(data)
    shown = _refused(capsys, saved, data, tmp_path)
    assert problem in shown


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_manifests_changed_on_one_kind_of_account_refuse_the_saved_plan(
    saved: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """The manifests digest covers the people of every kind: one more viewer on any one
    account, and the saved plan is not theirs."""
    state, folder, path = saved
    entries = {k: [*listed, BO] for k, listed in ENTRIES.items()}
    entries[kind] = [*entries[kind], "{email: cy@acme.example, role: viewer}"]
    (folder / "m.yaml").write_text(manifest(entries), encoding="utf-8")
    before = Path(state).read_bytes()
    code, out = cli(capsys, state, "apply", "--plan", str(path), str(folder))
    assert code == EXIT_ERROR, out
    assert "the manifests given mean something else" in out
    assert "Nothing was applied" in out
    assert f"{kind}:{SCOPES[kind]}: invite cy@acme.example as viewer" in out
    assert Path(state).read_bytes() == before
