"""The one manifest editor: line edits of YAML text, placed by the parser's own layout
(`manifest.layout`), so that only the lines that change, change; comments, order, quoting,
line breaks and layout stay byte for byte. `adopt`, `adopt --expiring` and the checks of
their edits use it; `write_atomic` writes what any command edits or imports.

Every value written is a JSON string (`quoted`), a valid YAML scalar whatever it holds, and
every comment is printable ASCII (`one_line`), so no value from the API can add a key, a
line or a document. Every edit is claimed first: two that touch the same lines are never
both made (the second is listed as skipped).

`Editor` reads a file once (through `read`, the disk by default), keeps its layout, and
gives back `FileEdit`s (text before, text after): nothing here writes but `write_atomic`.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reconciler.errors import ReconcilerError
from reconciler.manifest.layout import Entry, Layout, layout, line_break
from reconciler.model import Grant, Role, Source

_DASH = re.compile(r"^(\s*)- ")
_DASHES_ONLY = re.compile(r"\s*(?:-[ \t]+)*")


def read_text(file: str) -> str:
    """A manifest's text as it is on disk: every line keeps its own break (CR LF stays)."""
    with open(file, encoding="utf-8", newline="") as handle:
        return handle.read()


@dataclass(frozen=True, slots=True)
class FileEdit:
    path: str
    before: str
    after: str


def quoted(value: str) -> str:
    """A YAML double-quoted scalar, ASCII only, that loads back to exactly `value` whatever
    it holds (no raw line break, U+2028, bidi control or quote can end it): JSON's escapes,
    except that a character beyond U+FFFF is one `\\U` escape, since YAML reads JSON's
    surrogate pair as two lone surrogates."""
    return (
        '"'
        + "".join(
            f"\\U{ord(ch):08x}" if ord(ch) > 0xFFFF else json.dumps(ch, ensure_ascii=True)[1:-1]
            for ch in value
        )
        + '"'
    )


def one_line(text: str) -> str:
    """`text` for a YAML comment: printable ASCII, anything else as an escape, so no value
    can end the comment and start a line."""
    return "".join(c if c.isascii() and c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def grant_fields(grant: Grant) -> list[str]:
    """A grant as an entry's keys: `role: viewer`, or `permissions: [...]`; and
    `countries: [...]` where it holds some. Names from the API are quoted."""
    if grant.role is not None:
        out = [f"role: {grant.role.value}"]
    else:
        out = [f"permissions: [{', '.join(quoted(p) for p in grant.permissions)}]"]
    if grant.countries:
        out.append(f"countries: [{', '.join(quoted(c) for c in grant.countries)}]")
    return out


@dataclass(slots=True)
class _Edits:
    """Pending line edits of one file: replacements of line ranges (1-based, inclusive;
    no new lines deletes them) and insertions after a line."""

    replace: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    insert: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))


class Editor:
    """Line edits of manifest files, placed by their layout. Every edit is claimed first:
    two that touch the same lines are never both made."""

    def __init__(self, read: Callable[[str], str] = read_text) -> None:
        self.read = read
        self.layouts: dict[str, Layout] = {}
        self.edits: dict[str, _Edits] = defaultdict(_Edits)
        self.adopted: list[str] = []
        self.skipped: list[str] = []

    def fork(self) -> Editor:
        """An editor of the same files (read once) with no edits of its own yet."""
        other = Editor(self.read)
        other.layouts = self.layouts
        return other

    def merge(self, other: Editor) -> None:
        """Take `other`'s edits (of other lines: one account's entries are not another's)."""
        for file, edits in other.edits.items():
            mine = self.edits[file]
            mine.replace.update(edits.replace)
            for line, new in edits.insert.items():
                mine.insert[line].extend(new)
        self.adopted += other.adopted
        self.skipped += other.skipped

    def layout(self, file: str) -> Layout:
        if file not in self.layouts:
            try:
                self.layouts[file] = layout(self.read(file))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise ReconcilerError(f"{file}: cannot read it to edit ({exc})") from exc
        return self.layouts[file]

    def lines(self, file: str) -> list[str]:
        return self.layout(file).lines

    def entry(self, source: Source) -> Entry | None:
        return self.layout(source.file).entries.get((source.line, source.col))

    def entry_range(self, source: Source) -> tuple[int, int] | None:
        """The lines of the list entry whose value starts at `source`, from its dash to the
        end of its last value (blank lines and comments inside included); None when
        `source` is not where a block list entry starts."""
        found = self.entry(source)
        return None if found is None else (found.first, found.last)

    def claim(self, file: str, span: tuple[int, int], new: list[str], what: str) -> bool:
        edits = self.edits[file]
        for start, end in edits.replace:
            if not (span[1] < start or end < span[0]):
                self.skipped.append(f"{what}: its lines are changed by another adoption")
                return False
        edits.replace[span] = new
        return True

    def set_role(self, source: Source, role: Role, what: str) -> None:
        found = self.entry(source)
        at = found.keys.get("role") if found is not None else None
        if at is None:
            self.skipped.append(f"{source}: {what}: its `role:` is not where it can be edited")
            return
        line = self.lines(source.file)[at.line - 1]
        new = line[: at.start] + role.value + line[at.end :]
        if self.claim(source.file, (at.line, at.line), [new], what):
            self.adopted.append(f"{source}: {what}")

    def set_grant(self, source: Source, grant: Grant, what: str) -> None:
        """Write `grant` as the entry's access: `role:` alone, or `permissions: [...]` (and
        `countries: [...]` where it holds some), in place of whichever of those keys the
        entry has. A role for a role is the one scalar edited (`set_role`); otherwise the
        keys' text is replaced: inside a one-line flow mapping, or as whole lines of a block
        mapping whose grant keys each start their line. Anything else is listed as skipped."""
        found = self.entry(source)
        spans = self._grant_spans(source) if found is not None else None
        if found is None or not spans:
            self.skipped.append(f"{source}: {what}: its access is not where it can be edited")
            return
        if grant.role is not None and not grant.countries and [k for k, *_ in spans] == ["role"]:
            self.set_role(source, grant.role, what)
            return
        items = grant_fields(grant)
        lines = self.lines(source.file)
        first_line = spans[0][1]
        if found.flow and all(line == first_line == end for _, line, _, end, _ in spans):
            text = lines[first_line - 1]
            for _, _, start, _, stop in reversed(spans[1:]):
                head = re.sub(r"\s*,\s*$", "", text[:start])
                text = head + text[stop:]
            _, _, start, _, stop = spans[0]
            text = text[:start] + ", ".join(items) + text[stop:]
            new, span = [text], (first_line, first_line)
        elif not found.flow:
            new, span = self._grant_lines(source.file, spans, items) or ([], (0, 0))
            if not new:
                self.skipped.append(f"{source}: {what}: its access is not laid out line by line")
                return
        else:
            self.skipped.append(f"{source}: {what}: its access is not on one line")
            return
        if self.claim(source.file, span, new, what):
            self.adopted.append(f"{source}: {what}")

    def _grant_spans(self, source: Source) -> list[tuple[str, int, int, int, int]]:
        """(key, key's line, key's column, value's last line, column after the value) of
        the entry's `role`, `permissions` and `countries`, in the file's order."""
        try:
            root = yaml.compose("".join(self.lines(source.file)), Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            return []
        node = _mapping_at(root, source.line, source.col)
        if node is None:
            return []
        spans = [
            (str(key.value), key.start_mark.line + 1, key.start_mark.column, *_end(value))
            for key, value in node.value
            if isinstance(key, yaml.ScalarNode)
            and key.value in ("role", "permissions", "countries")
        ]
        return sorted(spans, key=lambda s: (s[1], s[2]))

    def _grant_lines(
        self, file: str, spans: list[tuple[str, int, int, int, int]], items: list[str]
    ) -> tuple[list[str], tuple[int, int]] | None:
        """A block mapping's grant keys as whole lines: each key starts its line (after the
        dash, for the first key) and its value ends it (but for a comment), and they are
        one run of lines. None otherwise."""
        lines = self.lines(file)
        first, last = spans[0][1], spans[-1][3]
        comments = []
        for _, line, col, end, stop in spans:
            text = lines[line - 1]
            if _DASHES_ONLY.fullmatch(text[:col]) is None:
                return None
            tail = lines[end - 1][stop:].rstrip("\r\n\x85\u2028\u2029")
            if tail.strip() and not tail.strip().startswith("#"):
                return None
            if tail.strip():
                comments.append(tail)
        covered = {n for _, line, _, end, _ in spans for n in range(line, end + 1)}
        if covered != set(range(first, last + 1)):
            return None
        newline = line_break(lines[first - 1]) or "\n"
        col = spans[0][2]
        head = lines[first - 1][:col]
        # The first comment on the replaced lines stays, after the first new one.
        new = [f"{head}{items[0]}{comments[0] if comments else ''}{newline}"]
        new += [f"{' ' * col}{item}{newline}" for item in items[1:]]
        return new, (first, last)

    def set_value(self, source: Source, key: str, text: str, what: str) -> bool:
        """Write `text` (quoted) as the `key:` of the entry at `source`, at its scalar when
        the entry has one, else as a key added to it (`add_key`)."""
        found = self.entry(source)
        if found is None:
            self.skipped.append(f"{source}: {what}: not an entry that can be edited")
            return False
        at = found.keys.get(key)
        if at is None:
            return self.add_key(source.file, found, key, quoted(text), what)
        line = self.lines(source.file)[at.line - 1]
        new = line[: at.start] + quoted(text) + line[at.end :]
        if self.claim(source.file, (at.line, at.line), [new], what):
            self.adopted.append(f"{source}: {what}")
            return True
        return False

    def remove(self, source: Source, what: str) -> bool:
        span = self.entry_range(source)
        if span is None:
            self.skipped.append(f"{source}: {what}: not an entry adopt can edit")
            return False
        if self.claim(source.file, span, [], what):
            self.adopted.append(f"{source}: {what}")
            return True
        return False

    def entry_on_line(self, file: str, line: int) -> Entry | None:
        """The one list entry whose value starts on `line` of `file` (None for none, or for
        two: `- - x` is not an entry anything here edits)."""
        found = [e for (at, _), e in self.layout(file).entries.items() if at == line]
        return found[0] if len(found) == 1 else None

    def add_key(self, file: str, found: Entry, key: str, value: str, what: str) -> bool:
        """`key: value` (value already quoted) added to the mapping entry `found`: in a
        one-line flow mapping before its `}`, in a block mapping as a line after the entry's
        last, at its keys' column. False (and listed as skipped) for any other entry, or one
        that has `key` already."""
        lines = self.lines(file)
        text = "".join(lines[found.first - 1 : found.last])
        if key in found.keys or re.search(rf"(^|[\s{{,]){re.escape(key)}\s*:", text):
            self.skipped.append(f"{file}:{found.first}: {what}: it has a `{key}:` already")
            return False
        if found.close is not None and found.close.line == found.first:
            line = lines[found.close.line - 1]
            before = line[: found.close.start].rstrip()
            comma = "" if before.endswith("{") else ", "
            new = f"{before}{comma}{key}: {value}{line[found.close.start :]}"
            if not self.claim(file, (found.close.line, found.close.line), [new], what):
                return False
        elif found.indent is not None and not found.flow:
            self.edits[file].insert[found.last].append(f"{' ' * found.indent}{key}: {value}\n")
        else:
            self.skipped.append(f"{file}:{found.first}: {what}: not an entry this can edit")
            return False
        self.adopted.append(f"{file}:{found.first}: {what}")
        return True

    def dash_indent(self, source: Source) -> str | None:
        found = self.entry(source)
        if found is None:
            return None
        match = _DASH.match(self.lines(source.file)[found.first - 1])
        return match.group(1) if match else None

    def add_after(self, source: Source, entry: str, comment: str, what: str) -> None:
        """A new list entry after the entry at `source`, indented like it."""
        found, indent = self.entry(source), self.dash_indent(source)
        if found is None or indent is None:
            self.skipped.append(f"{what}: no entry to add it after in {source.file}")
            return
        self.edits[source.file].insert[found.last].append(
            f"{indent}- {entry}  # {one_line(comment)}\n"
        )
        self.adopted.append(f"{source.file}: {what}")

    def add_entries(
        self,
        owner: Source | None,
        key: str,
        key_at: Source | None,
        entries: Sequence[tuple[str, str, str]],
        scope: str,
    ) -> None:
        """New entries `(entry, comment, what)` for a list that has none: under the key's
        line when it reads `key: []` (which becomes `key:`), else under a `key:` line added
        at the end of the block mapping at `owner`."""
        if not entries:
            return
        whats = ", ".join(what for _, _, what in entries)
        if key_at is not None:
            lines = self.lines(key_at.file)
            line = lines[key_at.line - 1]
            prefix, rest = line[: key_at.col - 1], line[key_at.col - 1 :]
            empty = re.fullmatch(rf"{key}:\s*\[\s*\](\s*#.*)?", rest.rstrip("\r\n"))
            if empty is None:
                self.skipped.append(f"{scope}: {whats}: `{key}:` is not a list adopt can add to")
                return
            head = f"{prefix}{key}:{empty.group(1) or ''}{line_break(line)}"
            if not self.claim(key_at.file, (key_at.line, key_at.line), [head], whats):
                return
            indent, file, after = key_at.col - 1 + 2, key_at.file, key_at.line
        else:
            found = self.entry(owner) if owner is not None else None
            if owner is None or found is None or found.flow:
                self.skipped.append(
                    f"{scope}: {whats}: the entry is not a block mapping adopt can add "
                    f"`{key}:` to (write `{key}: []` in it, then adopt again)"
                )
                return
            self.edits[owner.file].insert[found.last].append(f"{' ' * (owner.col - 1)}{key}:\n")
            indent, file, after = owner.col - 1 + 2, owner.file, found.last
        for entry, comment, what in entries:
            self.edits[file].insert[after].append(
                f"{' ' * indent}- {entry}  # {one_line(comment)}\n"
            )
            self.adopted.append(f"{file}: {what}")

    def results(self) -> list[FileEdit]:
        out: list[FileEdit] = []
        for file, edits in sorted(self.edits.items()):
            laid = self.layout(file)
            lines = laid.lines
            before = "".join(lines)
            # The file's own line break for the lines adopt writes (its first one).
            # LF or CR LF (or CR): NEL, LS and PS split lines for YAML but end none for git.
            newline = next((b for b in map(line_break, lines) if b in ("\n", "\r\n", "\r")), "\n")
            replace = dict(edits.replace)
            replace.update(_emptied(laid, edits))
            new = list(lines)
            points = [(end, "replace", start) for (start, end) in replace]
            points += [(after, "insert", 0) for after in edits.insert]
            # Bottom up, insertions (after a line) before the replacement ending on it.
            for line_no, kind, start in sorted(points, key=lambda p: (-p[0], p[1] != "insert")):
                if kind == "insert":
                    new[line_no:line_no] = [t.replace("\n", newline) for t in edits.insert[line_no]]
                else:
                    new[start - 1 : line_no] = replace[(start, line_no)]
            # A line that had no break (the file's last) and is now followed by another.
            for n in range(len(new) - 1):
                if not line_break(new[n]):
                    new[n] += newline
            after = "".join(new)
            if after != before:
                out.append(FileEdit(file, before, after))
        return out


def _end(node: yaml.Node) -> tuple[int, int]:
    """Where `node`'s text ends: 1-based line, 0-based column after it (a block sequence
    ends with its last item, not where the next key starts)."""
    while isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        node = node.value[-1]
    return node.end_mark.line + 1, node.end_mark.column


def _mapping_at(node: yaml.Node | None, line: int, col: int) -> yaml.MappingNode | None:
    """The mapping node that starts at `line`, `col` (1-based, as `Source` counts)."""
    stack = [node] if node is not None else []
    while stack:
        item = stack.pop()
        if isinstance(item, yaml.MappingNode):
            if (item.start_mark.line + 1, item.start_mark.column + 1) == (line, col):
                return item
            stack += [value for _, value in item.value]
        elif isinstance(item, yaml.SequenceNode):
            stack += item.value
    return None


def _emptied(laid: Layout, edits: _Edits) -> dict[tuple[int, int], list[str]]:
    """`key: []` for each block list whose every entry the edits remove, with nothing
    added in it: a key with no entries would be null, which no manifest allows."""
    out: dict[tuple[int, int], list[str]] = {}
    for block in laid.sequences:
        spans = [laid.entries[start] for start in block.entries]
        if not spans or any(edits.replace.get((e.first, e.last)) != [] for e in spans):
            continue
        first, last = spans[0].first, spans[-1].last
        if any(first <= at <= last for at, added in edits.insert.items() if added):
            continue
        line = laid.lines[block.key_line - 1]
        rest = re.fullmatch(
            r"(\s*):([ \t]*)(#.*)?", line[block.key_end :].rstrip("\r\n\x85\u2028\u2029")
        )
        if rest is None or (block.key_line, block.key_line) in edits.replace:
            continue
        comment = f"{rest.group(2)}{rest.group(3)}" if rest.group(3) else ""
        new = f"{line[: block.key_end]}{rest.group(1)}: []{comment}{line_break(line)}"
        out[(block.key_line, block.key_line)] = [new]
    return out


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and `os.replace`,
    fsynced: a crash leaves the old file or the new one, never a torn one. A file that
    exists keeps its permissions (a manifest kept private stays private), and a symbolic
    link is written through (the file it names changes; the link stays). The text is
    written as given: no line break is translated."""
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
