"""`reconciler pin PATH...`: write the proposed `userId:` pins into the manifests.

A manifest entry that a live user fits only by masked address is a candidate, never proof;
the plan proposes the pin that proves it (`Plan.pins`). This writes `userId: "<id>"` into
each such entry with the one manifest editor (`manifest.edit`): only the pinned lines change;
comments, order, quoting, line breaks and layout stay byte for byte. Each edit is checked by
loading the file again: the entry must now carry exactly that `userId` and nothing else in the
file may differ. An entry that is not a one-line flow mapping (`- {email: ..., role: ...}`)
or a block mapping is reported, not guessed at.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import ReconcilerError
from reconciler.manifest.edit import Editor, quoted, write_atomic
from reconciler.plan import Pin

_USER_ID = re.compile(r"[A-Za-z0-9._:-]{1,150}")  # fullmatch; the spec caps userId at 150


@dataclass(frozen=True, slots=True)
class PinResult:
    written: tuple[Pin, ...]
    skipped: tuple[tuple[Pin, str], ...]  # (pin, why it was not written)
    files: tuple[Path, ...]


def _pinned(doc: Any) -> list[tuple[str, str]]:
    """Every (email, userId) pair in a loaded manifest, where the entry has both."""
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("email"), str) and isinstance(node.get("userId"), str):
                found.append((node["email"], node["userId"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return found


def _strip(doc: Any, pairs: set[tuple[str, str]]) -> Any:
    """`doc` with the `userId` of the entries in `pairs` taken out (to compare with before)."""
    if isinstance(doc, dict):
        out = {k: _strip(v, pairs) for k, v in doc.items()}
        if (out.get("email"), out.get("userId")) in pairs:
            del out["userId"]
        return out
    if isinstance(doc, list):
        return [_strip(v, pairs) for v in doc]
    return doc


def write_pins(pins: Iterable[Pin], *, dry_run: bool = False) -> PinResult:
    """Write each pin into its file (all of a file's pins in one atomic write). Conflicting
    proposals for one entry (two user ids) are skipped, never guessed between."""
    by_entry: dict[tuple[str, int], list[Pin]] = defaultdict(list)
    for pin in pins:
        by_entry[(pin.file, pin.line)].append(pin)
    skipped: list[tuple[Pin, str]] = []
    chosen: dict[str, list[Pin]] = defaultdict(list)
    for (file, line), group in sorted(by_entry.items()):
        ids = {p.user_id for p in group}
        if len(ids) > 1:
            why = f"{file}:{line} fits {len(ids)} live users in different accounts: pin by hand"
            skipped += [(p, why) for p in group]
        elif line < 1 or not _USER_ID.fullmatch(group[0].user_id):
            skipped += [(p, "no manifest line to write it to") for p in group]
        else:
            chosen[file].append(group[0])
    written: list[Pin] = []
    files: list[Path] = []
    for file, file_pins in sorted(chosen.items()):
        editor = Editor()
        done: list[Pin] = []
        for pin in sorted(file_pins, key=lambda p: p.line):
            found = editor.entry_on_line(file, pin.line)
            what = f"pin {pin.email} as {pin.user_id}"
            if found is None:
                skipped.append((pin, f"{file}:{pin.line}: not an entry this can edit, or gone"))
            elif editor.add_key(file, found, "userId", quoted(pin.user_id), what):
                done.append(pin)
            else:
                skipped.append((pin, editor.skipped[-1]))
        edits = editor.results()
        if not done or not edits:
            continue
        (edit,) = edits
        _check(file, edit.before, edit.after, done)
        if not dry_run:
            try:
                write_atomic(Path(file), edit.after)
            except OSError as exc:
                raise ReconcilerError(
                    f"{file}: cannot write the pins ({exc.strerror}); nothing was changed in it"
                ) from exc
        written += done
        files.append(Path(file))
    return PinResult(tuple(sorted(written)), tuple(skipped), tuple(files))


def _check(file: str, before: str, after: str, pins: Sequence[Pin]) -> None:
    """The edit did what it says and nothing else, or nothing is written."""
    try:
        old, new = yaml.safe_load(before), yaml.safe_load(after)
    except yaml.YAMLError as exc:
        raise ReconcilerError(
            f"{file}: pinning would leave it unreadable YAML; nothing was written"
        ) from exc
    pairs = {(p.email, p.user_id) for p in pins}
    wanted = set(_pinned(old)) | pairs
    if set(_pinned(new)) != wanted or _strip(new, pairs) != _strip(old, set()):
        raise ReconcilerError(
            f"{file}: pinning would change more than the pinned entries; nothing was written. "
            "Add the `userId:` lines by hand: "
            + ", ".join(f"{p.email} -> {p.user_id}" for p in pins)
        )
