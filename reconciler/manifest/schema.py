"""Check a parsed manifest against `schemas/manifest.schema.json`, with messages a person can
act on, located at the offending key or value.

The schema file is the one source of truth (editors use it too), but we do not run the
`jsonschema` package over manifests: on the issue's benchmark (500 manager accounts x 40
links, 500 AMC accounts x 100 users) it alone takes ~1.9 s, and its messages are written for
machines. Instead `compile_schema` turns the small subset of JSON Schema 2020-12 the file uses
(type, const, enum, pattern, minLength, minimum, maximum, properties, required,
additionalProperties, propertyNames, items, local $ref) into closures; any other keyword is
refused at compile time, and tests check that `jsonschema` and this checker agree
on valid and invalid manifests.

The checker also settles unquoted scalars in string fields (see `yamlload`): a plain decimal
without sign or leading zero (`id: 5830000000001`) becomes exactly the text written; any other
number-looking or boolean text (`0123`, `1e5`, `yes`) is an error asking for quotes, so no
leading zero is ever lost.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.manifest.yamlload import NumberText, Path, YamlDoc

Check = Callable[[YamlDoc, Any, Path, list[Diagnostic]], Any]
"""A compiled check: reports problems into the list and returns the (possibly coerced)
value; it never raises for bad input."""

_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default"}
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "const",
    "enum",
    "pattern",
    "minLength",
    "minimum",
    "maximum",
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "items",
    "$ref",
}

# What to say when a value fails the pattern of a named definition.
_PATTERN_HINTS = {
    "email": "is not an email address (expected name@domain.tld)",
    "groupName": "is not a valid group name (letters, digits, `_`, `.`, `-`; "
    "starting with a letter or digit)",
    "nonEmptyString": "must not be empty",
    "domain": "is not a domain (expected a name such as example.com, without `@`)",
}

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "number": "a number",
    "array": "a list",
    "object": "a mapping",
}


# A plain decimal fraction (`0.4`, `1.0`); YAML's other number forms (`.inf`, `1_0.5`, `1e5`)
# are refused like anywhere else.
_PLAIN_DECIMAL = re.compile(r"^[0-9]+\.[0-9]*$")


class SchemaCompileError(Exception):
    """The schema file uses a keyword this checker does not implement: a bug, not user input."""


@cache
def load_schema() -> dict[str, Any]:
    """The manifest JSON Schema, read from the installed package."""
    text = (files("reconciler") / "schemas" / "manifest.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def compiled() -> Check:
    return compile_schema(load_schema())


class Found(list[Diagnostic]):
    """The problems found, and the path of the value each one is about (`paths`), so that
    the loader can set the bad values aside and still check the rest of the file."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[Path] = []


def validate(doc: YamlDoc) -> list[Diagnostic]:
    """Every schema problem in `doc`. Coerces unquoted numeric ids to their text in place."""
    return check(doc)


def check(doc: YamlDoc) -> Found:
    """`validate`, also saying where each problem is (`Found.paths`).

    A key misspelled closely enough to suggest one (`amcAcounts`) is reported, and its value
    is then checked, and kept, under the suggested key, so that the mistakes written under it
    are reported in the same run instead of after the key is fixed.
    """
    problems = Found()
    doc_data = compiled()(doc, doc.data, (), problems)
    object.__setattr__(doc, "data", doc_data)
    return problems


def compile_schema(schema: dict[str, Any]) -> Check:
    defs: dict[str, Any] = schema.get("$defs", {})
    compiled_defs: dict[str, Check] = {}

    def ref(name: str) -> Check:
        def check(doc: YamlDoc, value: Any, path: Path, out: list[Diagnostic]) -> Any:
            return compiled_defs[name](doc, value, path, out)

        return check

    def build(node: dict[str, Any], def_name: str | None) -> Check:
        unknown = set(node) - _SUPPORTED
        if unknown:
            raise SchemaCompileError(f"unsupported schema keywords: {sorted(unknown)}")
        if "$ref" in node:
            target = str(node["$ref"]).removeprefix("#/$defs/")
            if target not in defs:
                raise SchemaCompileError(f"unresolvable $ref {node['$ref']}")
            return ref(target)
        steps: list[Check] = []
        if "const" in node:
            steps.append(_const(node["const"]))
        if "enum" in node:
            steps.append(_enum(tuple(node["enum"])))
        kind = node.get("type")
        if kind == "string":
            steps.append(_string(node, def_name))
        elif kind in ("integer", "number", "boolean"):
            steps.append(_scalar_type(kind, node.get("minimum"), node.get("maximum")))
        elif kind == "array":
            steps.append(_array(build(node.get("items", {}), None)))
        elif kind == "object":
            steps.append(_object(node, build))
        elif kind is not None:
            raise SchemaCompileError(f"unsupported type {kind!r}")
        return _chain(steps)

    for name, node in defs.items():
        compiled_defs[name] = build(node, name)
    return build({k: v for k, v in schema.items() if k != "$defs"}, None)


def _chain(steps: list[Check]) -> Check:
    def check(doc: YamlDoc, value: Any, path: Path, out: list[Diagnostic]) -> Any:
        for step in steps:
            before = len(out)
            value = step(doc, value, path, out)
            if len(out) > before:
                break
        return value

    return check


def _report(doc: YamlDoc, path: Path, out: list[Diagnostic], message: str) -> None:
    line, col = doc.loc(path)
    _add(out, path, Diagnostic(doc.file, line, col, message))


def _add(out: list[Diagnostic], path: Path, diagnostic: Diagnostic) -> None:
    out.append(diagnostic)
    if isinstance(out, Found):
        out.paths.append(path)


def _what(path: Path) -> str:
    """How to name the value at `path` in a message."""
    if not path:
        return "the manifest"
    last = path[-1]
    if isinstance(last, str):
        return f"`{last}`"
    parent = next((p for p in reversed(path[:-1]) if isinstance(p, str)), "")
    return f"each entry of `{parent}`"


def _show(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"`{value}`"


def _const(expected: Any) -> Check:
    def check(doc: YamlDoc, value: Any, path: Path, out: list[Diagnostic]) -> Any:
        if type(value) is not type(expected) or value != expected:
            message = f"{_what(path)} must be {_show(expected)}, not {_show(value)}"
            if path == ("version",):
                message += f": this reconciler reads manifest version {expected}"
            _report(doc, path, out, message)
        return value

    return check


def _enum(options: tuple[Any, ...]) -> Check:
    valid = ", ".join(str(o) for o in options)

    def check(doc: YamlDoc, value: Any, path: Path, out: list[Diagnostic]) -> Any:
        if isinstance(value, str) and value in options:
            return value
        message = f"{_what(path)} must be one of {valid}, not {_show(value)}"
        if isinstance(value, str):
            folded = [o for o in options if str(o).lower() == value.lower()]
            close = folded or difflib.get_close_matches(value, [str(o) for o in options], 1)
            if close:
                message += f"; did you mean `{close[0]}`?"
        _report(doc, path, out, message)
        return value

    return check


def _string(node: dict[str, Any], def_name: str | None) -> Check:
    pattern = re.compile(node["pattern"]) if "pattern" in node else None
    min_length = int(node.get("minLength", 0))
    hint = _PATTERN_HINTS.get(def_name or "", "does not have the expected form")

    def check(doc: YamlDoc, value: Any, path: Path, out: list[Diagnostic]) -> Any:
        if not isinstance(value, str) or isinstance(value, NumberText):
            text = doc.plain.get(path)
            if (
                type(value) is int
                and text is not None
                and text.isdigit()
                and (text == "0" or text[0] != "0")
            ):
                value = text  # an unquoted id that YAML read as a number: exactly as written
            elif text is not None and value is not None:
                reads = "true or false" if isinstance(value, bool) else "a number"
                _report(
                    doc,
                    path,
                    out,
                    f"{_what(path)} reads as {reads} in YAML, not as the text `{text}`: "
                    f'quote it: "{text}"',
                )
                return value
            else:
                _report(doc, path, out, f"{_what(path)} must be a string, not {_show(value)}")
                return value
        if len(value) < min_length or (pattern is not None and not pattern.search(value)):
            if def_name == "nonEmptyString":
                _report(doc, path, out, f"{_what(path)} {hint}")
            else:
                _report(doc, path, out, f"{_what(path)} `{value}` {hint}")
        return value

    return check


def _scalar_type(kind: str, minimum: float | None, maximum: float | None) -> Check:
    def check(doc: YamlDoc, value: Any, path: Path, out: list[Diagnostic]) -> Any:
        if kind == "boolean":
            ok = isinstance(value, bool)
        elif kind == "number":
            if isinstance(value, NumberText) and _PLAIN_DECIMAL.match(value):
                value = float(value)  # `0.4`: YAML's float, read exactly as written
            ok = type(value) in (int, float)
        else:
            ok = type(value) is int
        if not ok:
            _report(
                doc, path, out, f"{_what(path)} must be {_TYPE_NAMES[kind]}, not {_show(value)}"
            )
        elif minimum is not None and value < minimum:
            _report(doc, path, out, f"{_what(path)} must be at least {minimum}, not {value}")
        elif maximum is not None and value > maximum:
            _report(doc, path, out, f"{_what(path)} must be at most {maximum}, not {value}")
        return value

    return check


def _array(items: Check) -> Check:
    def check(doc: YamlDoc, value: Any, path: Path, out: list[Diagnostic]) -> Any:
        if not isinstance(value, list):
            _report(doc, path, out, f"{_what(path)} must be a list, not {_show(value)}")
            return value
        for index, item in enumerate(value):
            value[index] = items(doc, item, (*path, index), out)
        return value

    return check


def _object(node: dict[str, Any], build: Callable[[dict[str, Any], str | None], Check]) -> Check:
    properties = {name: build(sub, None) for name, sub in node.get("properties", {}).items()}
    names = sorted(properties)
    required = tuple(node.get("required", ()))
    extra = node.get("additionalProperties", True)
    extra_check = build(extra, None) if isinstance(extra, dict) else None
    key_check = build(node["propertyNames"], None) if "propertyNames" in node else None

    def check(doc: YamlDoc, value: Any, path: Path, out: list[Diagnostic]) -> Any:
        if not isinstance(value, dict):
            _report(doc, path, out, f"{_what(path)} must be a mapping, not {_show(value)}")
            return value
        for key, item in list(value.items()):
            child = (*path, key)
            if key in properties:
                value[key] = properties[key](doc, item, child, out)
            elif extra_check is not None:
                if key_check is not None:
                    _check_key(doc, key_check, key, child, out)
                value[key] = extra_check(doc, item, child, out)
            elif extra is False:
                line, col = doc.key_loc(child)
                message = f"unknown key `{key}`"
                close = difflib.get_close_matches(key, names, 1, 0.6)
                folded = [n for n in names if n.lower() == key.lower()]
                meant = (folded or close or [None])[0]
                if meant is not None:
                    message += f"; did you mean `{meant}`?"
                else:
                    message += f"; valid keys here: {', '.join(names)}"
                out.append(Diagnostic(doc.file, line, col, message))
                if meant is not None and meant not in value:
                    # Check (and keep) what was written under the key the user meant.
                    del value[key]
                    value[meant] = properties[meant](doc, item, _alias(doc, child, meant), out)
                elif isinstance(out, Found):
                    out.paths.append(child)
        for key in required:
            if key not in value:
                message = f"{_entry(path)} is missing required key `{key}`"
                if not path and "const" in node.get("properties", {}).get(key, {}):
                    # The one value it can take (`version: 1`) is the fix.
                    message += f": add `{key}: {node['properties'][key]['const']}` at the top"
                _report(doc, path, out, message)
        return value

    return check


def _alias(doc: YamlDoc, old: Path, key: str) -> Path:
    """Make the locations under `old` also known under its sibling `key`; return that path."""
    new = (*old[:-1], key)

    def moved(path: Path) -> Path | None:
        return new + path[len(old) :] if path[: len(old)] == old else None

    for locs in (doc.locs, doc.key_locs):
        locs.update({m: loc for p, loc in list(locs.items()) if (m := moved(p)) is not None})
    doc.plain.update({m: t for p, t in list(doc.plain.items()) if (m := moved(p)) is not None})
    return new


def _check_key(
    doc: YamlDoc, key_check: Check, key: str, child: Path, out: list[Diagnostic]
) -> None:
    found: list[Diagnostic] = []
    key_check(doc, key, (), found)  # path () words the message as "the manifest ..."
    line, col = doc.key_loc(child)
    for d in found:
        message = d.message.replace("the manifest", "group", 1)
        _add(out, child, Diagnostic(doc.file, line, col, message))


def _entry(path: Path) -> str:
    if path and isinstance(path[-1], int):
        parent = next((p for p in reversed(path) if isinstance(p, str)), "")
        return f"this entry of `{parent}`"
    return _what(path)
