"""The access-review keys of a manifest: `reviewed: DATE` on an entry, a group entry or a
group member, and `reviewEvery: 90d` in the top-level or an account's `policy:`. The schema
checks their shape; this gives their meaning, with problems at FILE:LINE:COL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.manifest.yamlload import Path, YamlDoc
from reconciler.model import Source

_EVERY = re.compile(r"([1-9][0-9]{0,3})d")


def _where(doc: YamlDoc, path: Path) -> Source:
    line, col = doc.loc(path)
    return Source(doc.file, line, col)


def reviewed(
    doc: YamlDoc, path: Path, item: dict[str, Any], out: list[Diagnostic]
) -> tuple[float, Source] | None:
    """The entry's `reviewed:` as UTC epoch seconds (00:00 UTC that day) and where it is
    written; None when it has none, or after reporting what is wrong with it."""
    if "reviewed" not in item:
        return None
    where = _where(doc, (*path, "reviewed"))
    raw = item["reviewed"]
    text = raw.isoformat() if isinstance(raw, date) else str(raw).strip()
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        out.append(
            Diagnostic(
                where.file,
                where.line,
                where.col,
                f"`reviewed: {text}` is not a date: write the day the access was last "
                "reviewed, e.g. 2026-12-31",
            )
        )
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp(), where


def review_every(
    doc: YamlDoc, path: Path, block: dict[str, Any], out: list[Diagnostic]
) -> float | None:
    """A `policy:` block's `reviewEvery:` in days; None when unset or wrong (reported)."""
    if "reviewEvery" not in block:
        return None
    raw = block["reviewEvery"]
    found = _EVERY.fullmatch(str(raw).strip())
    if found is None:
        where = _where(doc, (*path, "reviewEvery"))
        out.append(
            Diagnostic(
                where.file,
                where.line,
                where.col,
                f"`reviewEvery: {raw}` is not a number of days: write e.g. `90d`",
            )
        )
        return None
    return float(found.group(1))


def latest(*found: tuple[float, Source] | None) -> tuple[float, Source] | None:
    """The most recent of several `reviewed:` dates (an entry, its group entry, its member)."""
    return max((f for f in found if f is not None), key=lambda f: f[0], default=None)
