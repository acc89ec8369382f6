"""Set aside the values the schema check found bad, so that the rest of the file still takes
part in the semantic checks: `validate` reports every problem of every file in one run, and
a mistake in one entry never hides a duplicate or an unknown group elsewhere.

What is set aside is the smallest whole thing around a problem: the list entry that holds
it (a user, a linked account, a group member, an account), else the top-level key; a bad
optional label that no check reads (`type`, `notify`, a `name` label) goes alone. A list
entry is replaced by `PRUNED` rather than removed, so the paths (and so the line numbers) of
the entries after it stay right; the semantic checks skip it, and skip the checks it could
make wrong (too few admins when an admin entry was set aside).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from reconciler.manifest.yamlload import Path, YamlDoc


class _Pruned:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PRUNED"


PRUNED: Final = _Pruned()
"""Stands for a list entry set aside because it failed the schema."""


@dataclass(frozen=True, slots=True)
class Pruned:
    usable: bool
    """Anything is left to check (the document is a mapping)."""
    groups_uncertain: bool
    """A group definition, or all of `groups`, was set aside: a group looked up elsewhere may
    be defined there, so "unknown group" would be a guess."""


def prune(doc: YamlDoc, paths: Iterable[Path]) -> Pruned:
    """Set aside, in `doc.data`, what each problem at `paths` is about."""
    if not isinstance(doc.data, dict):
        return Pruned(usable=False, groups_uncertain=True)
    uncertain = False
    for path in paths:
        cut = _cut(path)
        if not cut:
            continue  # about the document as a whole (a missing `version`): nothing to set aside
        if cut[0] == "groups" and len(cut) <= 2:
            uncertain = True
        _remove(doc.data, cut)
    return Pruned(usable=True, groups_uncertain=uncertain)


# Optional keys no semantic check reads (labels, creation-only settings): a bad one is set
# aside alone, so the entry holding it is still checked (its links for duplicates, ...).
# Keys that take part in an identity, a count or a default a check relies on are not here.
_ALONE = frozenset(
    {
        ("managerAccounts", "type"),
        ("linkedAccounts", "role"),
        ("amcAccounts", "name"),
        ("amcAccounts", "notify"),
        ("users", "name"),
    }
)


def _cut(path: Path) -> Path:
    if len(path) >= 3 and isinstance(path[-2], int) and (path[-3], path[-1]) in _ALONE:
        return path
    last_entry = max((i for i, step in enumerate(path) if isinstance(step, int)), default=None)
    return path[: last_entry + 1] if last_entry is not None else path[:1]


def _remove(data: Any, cut: Path) -> None:
    parent = data
    for step in cut[:-1]:
        if not _has(parent, step):
            return  # already set aside with an enclosing entry
        parent = parent[step]
    last = cut[-1]
    if isinstance(parent, list) and isinstance(last, int) and _has(parent, last):
        parent[last] = PRUNED
    elif isinstance(parent, dict) and _has(parent, last):
        del parent[last]


def _has(container: Any, step: str | int) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(container, list) and isinstance(step, int) and step < len(container)
