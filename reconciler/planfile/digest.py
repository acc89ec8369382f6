"""Digests that bind a plan to what it means.

- `plan_digest(actions, coverage)`: sha256 over what each action means, in plan order: every
  typed field except `reason` (which cites manifest file:line, and must not make a
  reformatted manifest a different plan), and for a `--changed-since` plan the accounts it
  covers. Printed by text and markdown so an approval can name it.
- `desired_digest(desired)`: sha256 over what the manifests mean: `Desired` without source
  locations, file names or the group an entry came from, every collection sorted. The same
  manifests reformatted, reordered or split over other files give the same digest.

Both are canonical JSON (sorted keys, no spaces, UTF-8) hashed with SHA-256 and written
`sha256:<hex>`. Nothing here reads a clock or the environment: the same inputs give the same
digest in any process at any time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import fields
from enum import Enum
from typing import Any

from reconciler.model import Desired, Scope
from reconciler.plan import Action, Coverage, ManagerRef, json_name
from reconciler.planning.meaning import normalised_desired

PREFIX = "sha256:"


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def action_meaning(action: Action) -> dict[str, Any]:
    """Every field of `action` but `reason`, as plain JSON values under its plan-file name
    (the plan file's action object, less `scope` and `reason`). Derived from `Action`'s
    fields, so a field a new kind adds is in the digest without a line here."""
    meaning = record(action)
    del meaning["reason"]
    return meaning


def record(value: Any) -> dict[str, Any]:
    """A plan value's fields (an action, a pin, an expiry, an invitation waiting) as plain
    JSON values under their plan-file names, in declaration order: the one encoder, so a
    field added to the value is written without a line here. A field marked local (an
    action's `origin`, `member`: where the planner found it) is neither written nor hashed."""
    return {
        json_name(f.name): _plain(getattr(value, f.name))
        for f in fields(value)
        if not f.metadata.get("local")
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Scope):
        return str(value)
    if isinstance(value, ManagerRef):
        return {"id": value.id, "name": value.name}
    if isinstance(value, tuple | frozenset):
        return [_plain(v) for v in value]
    return value


def coverage_meaning(coverage: Coverage) -> dict[str, Any]:
    """What binds a `--changed-since` plan's scope: REF's commit, the accounts planned and
    those leaving management (not why each is in, which is for people)."""
    return {
        "commit": coverage.commit,
        "planned": sorted(a.scope for a in coverage.accounts if not a.leaving),
        "leaving": sorted(a.scope for a in coverage.accounts if a.leaving),
    }


def plan_digest(actions: Iterable[Action], coverage: Coverage | None = None) -> str:
    """The actions' meaning in plan order; for a plan made with `--changed-since`, together
    with the accounts it covers (a plan over everything keeps the digest it always had)."""
    meaning = [action_meaning(a) for a in actions]
    if coverage is None:
        return _hash(meaning)
    return _hash({"actions": meaning, "coverage": coverage_meaning(coverage)})


def short(digest: str) -> str:
    """The first 12 hex digits, for places where a person compares by eye."""
    return digest.removeprefix(PREFIX)[:12]


def desired_digest(desired: Desired) -> str:
    return _hash(normalised_desired(desired))
