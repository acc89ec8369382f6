"""Discovery and merging of manifest files, including symlinks that lead elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import discover, load_manifests

EXAMPLES = Path(__file__).parents[2] / "examples" / "manifests"


def _write(path: Path, text: str = "version: 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _messages(paths: list[Path]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifests(paths)
    return [str(d) for d in caught.value.diagnostics]


def test_discovery_is_recursive_sorted_and_skips_hidden_and_other_files(tmp_path: Path) -> None:
    for name in ["b.yml", "a.yaml", "sub/c.yaml", ".hidden.yaml", ".git/x.yaml", "notes.txt"]:
        _write(tmp_path / name)
    assert discover([tmp_path]) == [
        tmp_path / "a.yaml",
        tmp_path / "b.yml",
        tmp_path / "sub/c.yaml",
    ]


def test_a_file_named_explicitly_is_read_whatever_its_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "manifest.txt")
    assert discover([path, tmp_path / "manifest.txt"]) == [path]


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert _messages([tmp_path / "nope"]) == [f"{tmp_path}/nope:1:1: no such file or directory"]
    assert _messages([tmp_path / "empty"]) == [
        f"{tmp_path}/empty:1:1: no .yaml or .yml files under {tmp_path}/empty"
    ]


def test_symlink_leading_outside_is_reported_not_followed(tmp_path: Path) -> None:
    outside = _write(tmp_path / "outside" / "secret.yaml", "version: 1\nmanagerAccounts: []\n")
    root = tmp_path / "manifests"
    _write(root / "real.yaml")
    (root / "link.yaml").symlink_to(outside)
    (root / "linkdir").symlink_to(outside.parent)
    assert _messages([root]) == [
        f"{root}/link.yaml:1:1: symlink leads outside the paths given (to {outside}): "
        "not followed; pass that path explicitly if it should be read",
        f"{root}/linkdir:1:1: symlink leads outside the paths given (to {outside.parent}): "
        "not followed; pass that path explicitly if it should be read",
    ]
    # Given explicitly, the other folder is one of the paths, so the links are fine.
    assert discover([root, outside.parent]) == [root / "link.yaml", root / "real.yaml"]


def test_symlink_inside_is_read_once(tmp_path: Path) -> None:
    real = _write(tmp_path / "a" / "real.yaml")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "alias.yaml").symlink_to(real)
    (tmp_path / "dir-link").symlink_to(tmp_path / "a")
    assert discover([tmp_path]) == [real]


def test_broken_symlink_is_reported(tmp_path: Path) -> None:
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    assert _messages([tmp_path]) == [
        f"{tmp_path}/gone.yaml:1:1: broken symlink (to {tmp_path}/missing.yaml)"
    ]


def test_problems_from_every_file_are_reported_together(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "version: 1\nx: 1\n")
    _write(tmp_path / "b.yaml", "version: 1\nmanagerAccounts: [{name: A}]\n")
    _write(tmp_path / "c.yaml", "version: 1\nmanagerAccounts: [{name: A}]\n")
    assert _messages([tmp_path]) == [
        f"{tmp_path}/a.yaml:2:1: unknown key `x`; valid keys here: adAccounts, amcAccounts, "
        "groups, managerAccounts, policy, version",
        f"{tmp_path}/c.yaml:2:19: duplicate manager account with name `A` "
        f"(also at {tmp_path}/b.yaml:2:19)",
    ]


def test_examples_are_valid() -> None:
    desired = load_manifests([EXAMPLES])
    assert len(desired.files) == 3


def test_a_broken_groups_file_does_not_make_its_groups_look_unknown(tmp_path: Path) -> None:
    _write(tmp_path / "groups.yaml", "version: 1\ngroups:\n  analysts:\n    - {email: nope}\n")
    _write(
        tmp_path / "amc.yaml",
        "version: 1\namcAccounts:\n  - id: E\n    users: [{group: analysts, role: admin}]\n",
    )
    assert _messages([tmp_path]) == [
        f"{tmp_path}/groups.yaml:4:15: `email` `nope` is not an email address "
        "(expected name@domain.tld)"
    ]


def test_a_bad_admin_entry_does_not_also_report_too_few_admins(tmp_path: Path) -> None:
    # The admin entry fails the schema and is set aside; counting without it would claim
    # "0 admins", a second message for the one mistake.
    path = _write(
        tmp_path / "amc.yaml",
        "version: 1\namcAccounts:\n  - id: ENTITYA\n    users:\n"
        "      - {email: alice@example, role: admin}\n",
    )
    assert _messages([path]) == [
        f"{path}:5:17: `email` `alice@example` is not an email address (expected name@domain.tld)"
    ]


def test_a_file_that_does_not_parse_hides_no_error_but_makes_no_guess(tmp_path: Path) -> None:
    # broken.yaml may define the group: "unknown group" would be a guess, so it is not said;
    # the duplicate across the other two files is still reported in the same run.
    broken = _write(tmp_path / "broken.yaml", "version: 1\ngroups: [\n")
    amc = (
        "version: 1\namcAccounts:\n  - id: ENTITYA\n    users:\n      - {group: ops, role: admin}\n"
    )
    first = _write(tmp_path / "one.yaml", amc)
    second = _write(tmp_path / "two.yaml", amc)
    messages = _messages([tmp_path])
    assert [m.split(":", 1)[0] for m in messages] == [str(broken), str(second)]
    assert messages[1] == f"{second}:3:5: duplicate AMC account `ENTITYA` (also at {first}:3:5)"


def test_errors_under_a_misspelled_key_come_with_it(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "m.yaml",
        "version: 1\nmanagerAcounts:\n  - name: Acme\n    linkedAccounts:\n"
        "      - {id: ENTITY1, region: XX}\n",
    )
    assert _messages([path]) == [
        f"{path}:2:1: unknown key `managerAcounts`; did you mean `managerAccounts`?",
        f"{path}:5:31: `region` must be one of NA, EU, FE, not `XX`",
    ]
