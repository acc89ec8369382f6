"""The README's manifest reference stays in step with the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- manifest-reference:start -->")
    return text[start : text.index("<!-- manifest-reference:end -->")]


def _properties(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        found |= set(node.get("properties", {}))
        for value in node.values():
            found |= _properties(value)
    elif isinstance(node, list):
        for value in node:
            found |= _properties(value)
    return found


def test_every_schema_property_is_documented() -> None:
    schema = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())
    names = _properties(schema)
    assert {"version", "linkedAccounts", "idType", "minAdmins", "userId", "notify"} <= names
    section = _section()
    missing = sorted(name for name in names if f"`{name}`" not in section)
    assert missing == []


def test_every_enum_value_is_documented() -> None:
    schema = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())
    section = _section()
    values: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            values.extend(node.get("enum", []))
            for value in node.values():
                walk(value)

    walk(schema)
    assert sorted(v for v in values if f"`{v}`" not in section) == []


def test_pre_commit_hook_runs_validate() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "reconciler-validate"
    assert hook["entry"] == "reconciler validate"
    assert hook["pass_filenames"] is False
    assert hook["args"] == ["manifests/"]  # a manifests folder, not the whole repository
