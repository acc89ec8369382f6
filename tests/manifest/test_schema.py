"""The schema checker agrees with `jsonschema` on the schema file, and says helpful things."""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.manifest import schema
from reconciler.manifest.yamlload import YamlDoc, read_yaml
from tests.manifest.strategies import manifests

SCHEMA_FILE = Path(__file__).parents[2] / "schemas" / "manifest.schema.json"


def test_schema_is_valid_2020_12_and_shipped_in_the_package() -> None:
    shipped = json.loads((files("reconciler") / "schemas" / "manifest.schema.json").read_text())
    assert shipped == json.loads(SCHEMA_FILE.read_text())
    assert shipped["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(shipped)


def test_unsupported_keywords_are_refused_when_compiling() -> None:
    with pytest.raises(schema.SchemaCompileError, match="oneOf"):
        schema.compile_schema({"oneOf": [{"type": "string"}]})


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", " ", "x", "NA", "admin", "a@b.c", "bad email", "Agency", "ENTITY1"]),
    st.just([]),
    st.just({}),
)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid manifest with one value replaced, one key added or one key removed."""
    data = copy.deepcopy(draw(manifests()))
    node: Any = data
    for _ in range(draw(st.integers(0, 6))):
        if isinstance(node, dict) and node:
            node = node[draw(st.sampled_from(sorted(node)))]
        elif isinstance(node, list) and node:
            node = node[draw(st.integers(0, len(node) - 1))]
        if not isinstance(node, (dict, list)):
            break
    if isinstance(node, dict):
        action = draw(st.sampled_from(["set", "add", "remove"]))
        if action == "remove" and node:
            del node[draw(st.sampled_from(sorted(node)))]
        elif action == "add":
            node[draw(st.sampled_from(["nmae", "role", "id", "extra", "users"]))] = draw(JUNK)
        elif node:
            node[draw(st.sampled_from(sorted(node)))] = draw(JUNK)
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(JUNK)
    return data


@settings(max_examples=300, deadline=None)
@given(data=mutated())
def test_checker_agrees_with_jsonschema(data: Any) -> None:
    validator = jsonschema.Draft202012Validator(schema.load_schema())
    expected = validator.is_valid(data)
    problems = schema.validate(YamlDoc("m.yaml", copy.deepcopy(data)))
    assert (not problems) == expected, (problems, list(validator.iter_errors(data))[:3])


def _messages(text: str) -> list[str]:
    doc = read_yaml(text.encode(), "m.yaml")
    assert isinstance(doc, YamlDoc)
    return [str(d) for d in schema.validate(doc)]


def test_unquoted_decimal_id_becomes_its_text() -> None:
    doc = read_yaml(b"version: 1\nmanagerAccounts:\n  - name: 2024\n    id: 123\n", "m.yaml")
    assert isinstance(doc, YamlDoc)
    assert schema.validate(doc) == []
    assert doc.data["managerAccounts"][0] == {"name": "2024", "id": "123"}


def test_unknown_key_lists_valid_keys_when_nothing_is_close() -> None:
    assert _messages("version: 1\nzzz: 1\n") == [
        "m.yaml:2:1: unknown key `zzz`; valid keys here: adAccounts, amcAccounts, groups, "
        "managerAccounts, policy, version"
    ]
