"""Where things are in a manifest file, from the YAML parser, for line edits (`manifest.edit`).

A line edit must know exactly which lines a list entry spans: guessing it from indentation
gets a blank line or a comment inside a block entry wrong, and then removing the entry
leaves its later keys to the entry before it (an `expires:` that ends someone else's
access). So the extent comes from the parser's node marks: an entry runs from its dash's
line to the line where its last value ends, whatever blank lines and comments lie between.

Lines are split where YAML (and so every `Source` the loader gives) counts line breaks:
CR LF, CR, LF, NEL, LS and PS. Each line keeps its own break, so an edit keeps a file's
CR LF endings, and a file's last line may have none.

Only files that already loaded as manifests are laid out (no tags, no aliases, one
document), so composing them again is safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

_Composer: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_DASHES = re.compile(r"\s*(?:-[ \t]+)+")


def split_lines(text: str) -> list[str]:
    """`text` as lines, each with its own line break (the last may have none)."""
    lines: list[str] = []
    start = 0
    for match in LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def line_break(line: str) -> str:
    match = LINE_BREAK.search(line)
    return match.group(0) if match else ""


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar value's place: 1-based line, 0-based columns [start, end) on that line."""

    line: int
    start: int
    end: int


@dataclass(slots=True)
class Entry:
    """One item of a block sequence: lines `first`..`last` (1-based, inclusive), from its
    dash to the end of its last value. `keys` holds its one-line scalar values by key, when
    the item is a mapping (`role` -> where `viewer` is written)."""

    first: int
    last: int
    flow: bool = False  # a flow mapping (`- {id: X}`): no key can be added line by line
    keys: dict[str, Scalar] = field(default_factory=dict)
    # Every key's value that is written on one line, a flow list (`countries: [US]`) too,
    # and how many keys the mapping has: a key is missing here when its value is not.
    values: dict[str, Scalar] = field(default_factory=dict)
    size: int = 0
    # A flow mapping's closing `}` (where a key is added), or a block mapping's keys'
    # column (0-based, where an added key's line starts); None for anything else.
    close: Scalar | None = None
    indent: int | None = None


@dataclass(slots=True)
class BlockList:
    """A block sequence that is the value of a mapping key: where the key ends (for
    `key: []`), and its entries' starts."""

    key_line: int
    key_end: int  # 0-based column just after the key's text
    entries: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class Layout:
    """Every block-sequence item of one file, by where its value starts (1-based line and
    column, as `Source` counts them)."""

    lines: list[str]
    entries: dict[tuple[int, int], Entry] = field(default_factory=dict)
    sequences: list[BlockList] = field(default_factory=list)


def _last_line(node: yaml.Node) -> int:
    """The 1-based line where `node`'s text ends."""
    while True:
        if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
            node = node.value[-1][1]
        elif isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
            node = node.value[-1]
        else:
            break
    mark = node.end_mark
    # A block scalar ends at the start of the line after it.
    if mark.column == 0 and mark.line > node.start_mark.line:
        return int(mark.line)
    return int(mark.line) + 1


def layout(text: str) -> Layout:
    lines = split_lines(text)
    result = Layout(lines)
    root = yaml.compose(text, Loader=_Composer)
    if root is not None:
        _walk(root, result, None)
    return result


def _walk(node: yaml.Node, result: Layout, sequence: BlockList | None) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            inner = None
            block = isinstance(value, yaml.SequenceNode) and not value.flow_style
            if block and key.start_mark.line == key.end_mark.line:
                inner = BlockList(key.start_mark.line + 1, key.end_mark.column)
                result.sequences.append(inner)
            _walk(value, result, inner)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if not node.flow_style:
                _entry(item, result, sequence)
            _walk(item, result, None)


def _entry(item: yaml.Node, result: Layout, sequence: BlockList | None) -> None:
    line, col = item.start_mark.line + 1, item.start_mark.column + 1
    text = result.lines[line - 1] if line <= len(result.lines) else ""
    if _DASHES.fullmatch(text[: col - 1]) is None:
        return  # `-` alone on its line, the value below: not an entry adopt edits
    flow = isinstance(item, yaml.MappingNode) and bool(item.flow_style)
    entry = Entry(line, max(line, _last_line(item)), flow=flow)
    if flow:
        end = item.end_mark  # just after the `}`
        entry.close = Scalar(end.line + 1, end.column - 1, end.column)
    elif isinstance(item, yaml.MappingNode) and item.value:
        entry.indent = item.value[0][0].start_mark.column
    if isinstance(item, yaml.MappingNode):
        entry.size = len(item.value)
        for key, value in item.value:
            if not isinstance(key, yaml.ScalarNode) or value.start_mark.line != value.end_mark.line:
                continue
            at = Scalar(value.start_mark.line + 1, value.start_mark.column, value.end_mark.column)
            entry.values[str(key.value)] = at
            if isinstance(value, yaml.ScalarNode):
                entry.keys[str(key.value)] = at
    result.entries[(line, col)] = entry
    if sequence is not None:
        sequence.entries.append((line, col))
