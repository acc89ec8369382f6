"""`adopt --expiring` on every kind of account (manager, sponsored-ads, DSP, AMC), through
the CLI: entries whose `expires:` passed or comes within the window go, the rest stays; a
group member's expiry takes them out of the group wherever it is used; a removal that would
leave an account of any kind under its `minAdmins` is not made and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.driver import day, run
from tests.planning.test_kinds_scenarios import SCOPES, manifest


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_kind_loses_what_ends_and_keeps_what_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone, soon, later = day(-1), day(3), day(60)

    def entries(*, ending: bool) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kind in SCOPES:
            grant = {
                "sponsored-ads": "role: viewer, countries: [US]",
                "dsp": "permissions: [reports_edit]",
            }.get(kind, "role: viewer")
            ends = [
                f'{{email: ana@acme.example, {grant}, expires: "{gone}"}}',
                f'{{email: bo@acme.example, {grant}, expires: "{soon}"}}',
            ]
            out[kind] = [
                *(ends if ending else []),
                f'{{email: cy@acme.example, {grant}, expires: "{later}"}}',
            ]
        return out

    path = _write(tmp_path, manifest(entries(ending=True)))
    code, out = run(capsys, "adopt", "--expiring", str(tmp_path))
    assert code == 2, out
    assert path.read_text(encoding="utf-8") == manifest(entries(ending=False))
    lines = manifest(entries(ending=True)).splitlines()
    for n, line in enumerate(lines, 1):
        if gone in line:
            assert f"adopted: {path}:{n}: ana@acme.example expired on {gone}" in out
        if soon in line:
            assert f"adopted: {path}:{n}: bo@acme.example expires on {soon}" in out
    assert run(capsys, "validate", str(tmp_path))[0] == 0
    code, out = run(capsys, "adopt", "--expiring", str(tmp_path))
    assert code == 0 and "Nothing to adopt." in out, out


def test_a_group_member_used_on_two_kinds_leaves_the_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = day(2)
    entries = {"manager": ["{group: team, role: admin}"], "dsp": ["{group: team, role: viewer}"]}
    team = "groups:\n  team:\n    - {email: eli@acme.example}\n"
    dee = f'    - {{email: dee@acme.example, expires: "{soon}"}}\n'
    path = _write(tmp_path, manifest(entries) + team + dee)
    code, out = run(capsys, "adopt", "--expiring", str(tmp_path))
    assert code == 2, out
    assert path.read_text(encoding="utf-8") == manifest(entries) + team
    assert f"adopted: {path}:{len(path.read_text().splitlines()) + 1}: dee@acme.example " in out


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_the_admin_minadmins_needs_is_kept_on_every_kind_and_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    gone = day(-1)
    entry = f'{{email: ana@acme.example, role: admin, expires: "{gone}"}}'
    text = manifest({kind: [entry]}).replace(
        f"  - id: {SCOPES[kind]}\n", f"  - id: {SCOPES[kind]}\n    minAdmins: 2\n"
    )
    if kind == "manager":
        text = text.replace("    id: ", "    minAdmins: 2\n    id: ", 1)
    path = _write(tmp_path, text)
    code, out = run(capsys, "adopt", "--expiring", str(tmp_path))
    assert code == 0, out
    assert path.read_text(encoding="utf-8") == text
    line = next(n for n, x in enumerate(text.splitlines(), 1) if gone in x)
    noun = {"manager": "Manager", "sponsored-ads": "Sponsored-ads", "dsp": "DSP", "amc": "AMC"}
    assert (
        f"not adopted: {path}:{line}: ana@acme.example expired on {gone}: not removed, because "
        "the manifests would not pass their own checks without it: "
    ) in out
    assert f"{noun[kind]} account `{SCOPES[kind]}` " in out
    assert "(or move the `expires:`)" in out


def test_under_prune_false_the_entry_stays_as_the_marker_and_names_its_kind_of_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without prune an entry removed would leave its person alone: an expiry still to come
    is brought to today, one passed is kept and listed, naming the account by its kind (a
    DSP and an AMC account's ids look alike)."""
    gone, soon = day(-2), day(4)
    today = day(0)
    text = manifest(
        {
            "dsp": [f'{{email: ana@acme.example, permissions: [reports_edit], expires: "{gone}"}}'],
            "sponsored-ads": [
                f'{{email: bo@acme.example, role: viewer, countries: [US], expires: "{soon}"}}'
            ],
        },
        prune=False,
    )
    path = _write(tmp_path, text)
    code, out = run(capsys, "adopt", "--expiring", str(tmp_path))
    assert code == 2, out
    assert path.read_text(encoding="utf-8") == text.replace(soon, today)
    line = next(n for n, x in enumerate(text.splitlines(), 1) if gone in x)
    assert (
        f"not adopted: {path}:{line}: ana@acme.example expired on {gone}: kept as the marker "
        f"that ends the access on DSP account {SCOPES['dsp']} (prune: false there: without "
        "the entry it would be left alone); the plan removes them, and adopt removes the "
        "entry once apply has revoked them"
    ) in out


def test_a_group_entry_that_ends_on_one_kind_names_every_member_it_takes_away(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The group entry's own `expires:` ends the group on the DSP account, for each of its
    members; the manager account keeps the group. The reviewer reads who loses access."""
    gone = day(-1)
    ending = f'{{group: team, role: viewer, expires: "{gone}"}}'
    kept = {"manager": ["{group: team, role: admin}"]}
    team = "groups:\n  team:\n    - {email: eli@acme.example}\n    - {email: fay@acme.example}\n"
    path = _write(tmp_path, manifest({**kept, "dsp": [ending]}) + team)
    code, out = run(capsys, "adopt", "--expiring", str(tmp_path))
    assert code == 2, out
    assert path.read_text(encoding="utf-8") == manifest(kept) + team
    line = next(n for n, x in enumerate(path.read_text().splitlines(), 1) if "type: dsp" in x) + 3
    assert (
        f"adopted: {path}:{line}: group team on DSP account {SCOPES['dsp']} "
        f"(eli@acme.example, fay@acme.example) expired on {gone}\n"
    ) in out
