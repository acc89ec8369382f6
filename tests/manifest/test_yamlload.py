"""The safe YAML reader: locations, typing of plain scalars, and what it refuses."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import Diagnostic
from reconciler.manifest.yamlload import NumberText, YamlDoc, read_yaml


def _doc(text: str) -> YamlDoc:
    result = read_yaml(text.encode(), "m.yaml")
    assert isinstance(result, YamlDoc), result
    return result


def _problems(raw: bytes) -> list[str]:
    result = read_yaml(raw, "m.yaml")
    assert isinstance(result, list)
    return [str(d) for d in result]


def test_values_keys_and_locations() -> None:
    doc = _doc("version: 1\nmanagerAccounts:\n  - name: Acme\n    prune: yes\n")
    assert doc.data == {"version": 1, "managerAccounts": [{"name": "Acme", "prune": True}]}
    assert doc.locs[("managerAccounts", 0)] == (3, 5)
    assert doc.locs[("managerAccounts", 0, "prune")] == (4, 12)
    assert doc.key_locs[("managerAccounts", 0, "prune")] == (4, 5)
    assert doc.plain[("managerAccounts", 0, "prune")] == "yes"


def test_plain_scalars_keep_their_text() -> None:
    doc = _doc("a: 5830000000001\nb: 0123\nc: '0123'\nd: 1_000\ne: 2024-01-01\nf: ~\n")
    assert doc.data["a"] == 5830000000001 and doc.plain[("a",)] == "5830000000001"
    assert isinstance(doc.data["b"], NumberText) and doc.data["b"] == "0123"
    assert type(doc.data["c"]) is str  # quoted: plain string, not flagged
    assert ("c",) not in doc.plain
    assert isinstance(doc.data["d"], NumberText)
    assert doc.data["e"] == "2024-01-01"  # no timestamps: dates stay text
    assert doc.data["f"] is None


def test_keys_are_never_converted() -> None:
    # YAML 1.1 would read the key `on` as true; field names are always their text.
    assert _doc("on: 1\n").data == {"on": 1}


def test_python_tags_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    raw = f'x: !!python/object/apply:os.system ["touch {marker}"]\n'.encode()
    assert _problems(raw) == [
        "m.yaml:1:4: YAML tags are not allowed (!!python/object/apply:os.system): remove the tag"
    ]
    assert not marker.exists()


def test_billion_laughs_is_refused_at_the_first_alias() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, prev in zip("bcdefghij", "abcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    problems = _problems("\n".join(lines).encode())
    assert problems == [
        "m.yaml:2:8: YAML aliases are not supported (*a): write the value out, "
        "or use `groups` for reusable sets of people"
    ]


def test_a_ten_megabyte_file_loads() -> None:
    users = "".join(
        f"      - {{email: user{i}@example.com, role: viewer}}\n" for i in range(220_000)
    )
    text = "version: 1\namcAccounts:\n  - id: ENTITY1\n    users:\n" + users
    assert len(text) > 10_000_000
    doc = _doc(text)
    assert len(doc.data["amcAccounts"][0]["users"]) == 220_000
    assert doc.locs[("amcAccounts", 0, "users", 219_999)] == (220_004, 9)


def test_bom_is_ignored_and_crlf_counts_lines() -> None:
    doc = _doc("\ufeffversion: 1\r\nx: [\r\n  1]\r\n")
    assert doc.data == {"version": 1, "x": [1]}
    assert doc.locs[("x", 0)] == (3, 3)


def test_only_one_problem_per_file_is_reported_by_the_parser() -> None:
    assert read_yaml(b"a: [\n", "m.yaml") == [
        Diagnostic(
            "m.yaml",
            2,
            1,
            "invalid YAML: did not find expected node content (while parsing a flow node)",
        )
    ]
