"""A safe YAML reader that remembers where every value was written.

PyYAML's loaders build objects without locations and accept duplicate keys silently, so we
build the tree ourselves from the parser's event stream (the libyaml C parser when present,
for speed; the pure-Python one otherwise). That gives us, with no extra pass:

- a `(line, col)` for every value and every mapping key (1-based, as editors count);
- duplicate keys as errors naming both places;
- no tags at all: `!!python/object`, `!!binary`, `!custom` and friends are refused, so a
  manifest can never instantiate an object or read a file;
- no aliases: `*name` is refused where it appears, so an alias bomb ("billion laughs") costs
  nothing; groups are the way to reuse a set of people;
- checks before parsing: size limit, NUL bytes (binary), UTF-8, tabs in indentation, empty.

Plain scalars are typed the YAML 1.1 way PyYAML uses (so `prune: yes` is true), except that
timestamps stay strings. For each plain scalar that did not come out a string we keep its
source text in `YamlDoc.plain`, so a later stage can turn an unquoted id such as
`5830000000001` back into exactly the text written, or refuse `0123` (leading zero) and tell
the user to quote it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.errors import Diagnostic

# Decision: 64 MiB per file. The issue wants 10 MB to load fine; nothing real comes close to
# 64 MiB, and the limit keeps a stray multi-gigabyte file from eating memory.
MAX_FILE_BYTES = 64 * 1024 * 1024
# Decision: nesting deeper than this is never a manifest (ours nests 5 levels); refusing it
# keeps a `[[[[...` bomb cheap.
MAX_DEPTH = 32

Path = tuple[str | int, ...]
Loc = tuple[int, int]

_Parser: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The YAML 1.1 implicit types PyYAML's SafeLoader resolves (yaml/resolver.py), minus timestamp.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_TRUE = re.compile(r"^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$")
_BOOL_FALSE = re.compile(r"^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$")
_DECIMAL = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_INT_OTHER = re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-9_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
)
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
# Line breaks as YAML 1.1 counts them (and libyaml's marks with them), unlike str.splitlines.
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


class NumberText(str):
    """A plain scalar that YAML reads as a number in a form we do not convert (octal `0123`,
    hex, `1_000`, sexagesimal): kept as its text, and flagged in `YamlDoc.plain`."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """One parsed file. `data` is plain JSON-like values; paths index into it."""

    file: str
    data: Any
    locs: dict[Path, Loc] = field(default_factory=dict)  # where each value starts
    key_locs: dict[Path, Loc] = field(default_factory=dict)  # where each value's key is
    plain: dict[Path, str] = field(default_factory=dict)  # non-string plain scalars' text

    def loc(self, path: Path) -> Loc:
        """The location of `path`, or of its nearest located ancestor."""
        while path not in self.locs and path:
            path = path[:-1]
        return self.locs.get(path, (1, 1))

    def key_loc(self, path: Path) -> Loc:
        return self.key_locs.get(path) or self.loc(path)


class YamlProblem(Exception):
    """Raised inside this module only; `read_yaml` turns it into diagnostics."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


def read_yaml(raw: bytes, file: str) -> YamlDoc | list[Diagnostic]:
    """Parse one manifest file's bytes. Returns the document, or every problem found."""
    try:
        text = _decode(raw)
        return _build(file, text)
    except YamlProblem as problem:
        return [Diagnostic(file, problem.line, problem.col, problem.message)]


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise YamlProblem(1, 1, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    nul = raw.find(b"\0")
    if nul >= 0:
        line, col = _byte_position(raw, nul)
        raise YamlProblem(line, col, "file is not text (it contains NUL bytes): not a manifest")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _byte_position(raw, exc.start)
        raise YamlProblem(
            line, col, f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}): save it as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    for number, line_text in enumerate(_LINE_BREAK.split(text), start=1):
        indent = len(line_text) - len(line_text.lstrip(" \t"))
        tab = line_text.find("\t", 0, indent)
        if tab >= 0 and line_text.strip():
            raise YamlProblem(
                number, tab + 1, "tab character in indentation: YAML needs spaces to indent"
            )
    return text


def _byte_position(raw: bytes, offset: int) -> Loc:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    return raw.count(b"\n", 0, offset) + 1, column


def _events(text: str) -> Iterator[Any]:
    parser = _Parser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def _build(file: str, text: str) -> YamlDoc:
    doc = YamlDoc(file=file, data=None)
    # Each frame: [container, path, pending key or None, key location]
    stack: list[list[Any]] = []
    seen_keys: list[dict[str, Loc]] = []
    documents = 0
    root: Any = None
    try:
        for event in _events(text):
            kind = type(event)
            if kind in (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent):
                continue
            mark = event.start_mark
            here = (mark.line + 1, mark.column + 1)
            if kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise YamlProblem(
                        *here, "more than one YAML document in this file: split it into files"
                    )
                continue
            if kind is yaml.AliasEvent:
                raise YamlProblem(
                    *here,
                    f"YAML aliases are not supported (*{event.anchor}): write the value out, "
                    "or use `groups` for reusable sets of people",
                )
            if kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                if kind is yaml.MappingEndEvent:
                    seen_keys.pop()
                if not stack:
                    root = frame[0]
                continue
            if event.tag is not None:
                tag = str(event.tag).replace("tag:yaml.org,2002:", "!!")
                raise YamlProblem(*here, f"YAML tags are not allowed ({tag}): remove the tag")
            # A node: scalar, or the start of a mapping or sequence.
            if stack and isinstance(stack[-1][0], dict) and stack[-1][2] is None:
                _take_key(doc, stack[-1], seen_keys[-1], event, here)
                continue
            path = _child_path(stack)
            doc.locs[path] = here
            if kind is yaml.ScalarEvent:
                value = _scalar(doc, path, event)
                if stack:
                    _attach(doc, stack[-1], path, value)
                else:
                    root = value
                continue
            if len(stack) >= MAX_DEPTH:
                raise YamlProblem(*here, f"nesting deeper than {MAX_DEPTH} levels")
            container: Any = {} if kind is yaml.MappingStartEvent else []
            if stack:
                _attach(doc, stack[-1], path, container)
            stack.append([container, path, None, None])
            if kind is yaml.MappingStartEvent:
                seen_keys.append({})
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise YamlProblem(line, col, f"invalid YAML: {problem}{context}") from None
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", None)
        line, col = _char_position(text, position) if isinstance(position, int) else (1, 1)
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise YamlProblem(line, col, f"invalid YAML: {reason}") from None
    if root is None:
        raise YamlProblem(1, 1, "file is empty: a manifest starts with `version: 1`")
    return YamlDoc(file, root, doc.locs, doc.key_locs, doc.plain)


def _char_position(text: str, offset: int) -> Loc:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _child_path(stack: list[list[Any]]) -> Path:
    if not stack:
        return ()
    container, path, key, _ = stack[-1]
    if isinstance(container, dict):
        return (*path, key)
    return (*path, len(container))


def _take_key(doc: YamlDoc, frame: list[Any], seen: dict[str, Loc], event: Any, here: Loc) -> None:
    if type(event) is not yaml.ScalarEvent:
        raise YamlProblem(*here, "mapping keys must be plain words, not lists or mappings")
    key = event.value
    if key in seen:
        first = seen[key]
        raise YamlProblem(
            *here,
            f"duplicate key `{key}` (first at line {first[0]}, column {first[1]}): "
            "remove one of them",
        )
    seen[key] = here
    frame[2] = key
    frame[3] = here


def _attach(doc: YamlDoc, frame: list[Any], path: Path, value: Any) -> None:
    container = frame[0]
    if isinstance(container, dict):
        container[frame[2]] = value
        doc.key_locs[path] = frame[3]
        frame[2] = None
    else:
        container.append(value)


def _scalar(doc: YamlDoc, path: Path, event: Any) -> Any:
    text: str = event.value
    if not event.implicit[0] or event.style:
        return text  # quoted or block scalar: always a string
    if _NULL.match(text):
        value: Any = None
    elif _BOOL_TRUE.match(text):
        value = True
    elif _BOOL_FALSE.match(text):
        value = False
    elif _DECIMAL.match(text):
        value = int(text)
    elif _INT_OTHER.match(text) or _FLOAT.match(text):
        value = NumberText(text)
    else:
        return text
    doc.plain[path] = text
    return value
