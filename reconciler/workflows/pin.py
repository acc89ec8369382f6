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


def _added(old: Any, new: Any, pairs: set[tuple[str, str]]) -> int | None:
    """How many entries gained a `userId:` from `pairs` between `old` and `new`, walking both
    side by side; None when anything else differs (another key, another entry, an existing
    pin touched). An entry already pinned with the same pair elsewhere is left alone."""
    if isinstance(old, dict) and isinstance(new, dict):
        added = 0
        if set(new) - set(old) == {"userId"} and "userId" not in old:
            if (old.get("email"), new["userId"]) not in pairs:
                return None
            added = 1
        elif set(new) != set(old):
            return None
        for key, value in old.items():
            below = _added(value, new[key], pairs)
            if below is None:
                return None
            added += below
        return added
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return None
        total = 0
        for a, b in zip(old, new, strict=True):
            below = _added(a, b, pairs)
            if below is None:
                return None
            total += below
        return total
    return 0 if type(old) is type(new) and old == new else None


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
    if _added(old, new, pairs) != len(pins):
        raise ReconcilerError(
            f"{file}: pinning would change more than the pinned entries; nothing was written. "
            "Add the `userId:` lines by hand: "
            + ", ".join(f"{p.email} -> {p.user_id}" for p in pins)
        )
