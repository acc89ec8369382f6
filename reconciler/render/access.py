"""`reconciler access` as text, markdown, JSON and CSV: one row per person and account.

Every string from the API or a manifest (names, addresses, ids) is escaped for its format at
this edge: `escape.terminal` for text, `escape.markdown` for markdown, `escape.csv_cell` for
CSV (a cell a spreadsheet would run as a formula gets a leading `'`); JSON escapes itself.
With `mask` every address is masked (`a***@example.com`) except those the manifests hold
(`keep`), as in the plan's outputs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.escape import csv_cell, markdown, terminal
from reconciler.planning.access import Access, Grant
from reconciler.planning.review import Due
from reconciler.render.mask import mask_addresses

COLUMNS = (
    "accountKind",
    "accountId",
    "accountName",
    "userId",
    "email",
    "manifestEmail",
    "role",
    "permissions",
    "countries",
    "state",
    "source",
    "group",
    "expires",
    "via",
    "reviewed",
    "reviewDue",
    "overdue",
    "note",
)


def _day(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def _address(value: str | None, mask: bool, keep: frozenset[str]) -> str | None:
    return value if value is None or not mask else mask_addresses(value, keep)


def record(grant: Grant, *, now: float, mask: bool, keep: frozenset[str]) -> dict[str, Any]:
    """The row as JSON has it (CSV: the same columns)."""
    return {
        "accountKind": grant.scope.kind.value,
        "accountId": grant.scope.key,
        "accountName": grant.account_name,
        "userId": grant.user_id,
        "email": _address(grant.email, mask, keep),
        "manifestEmail": _address(grant.manifest_email, mask, keep),
        "role": grant.role,
        "permissions": list(grant.permissions),
        "countries": list(grant.countries),
        "state": grant.state,
        "source": None if grant.source is None else str(grant.source),
        "group": grant.group,
        "expires": _day(grant.expires),
        "via": grant.via,
        "reviewed": _day(grant.review.reviewed) if grant.review else None,
        "reviewDue": _day(grant.review.due) if grant.review else None,
        "overdue": grant.overdue(now),
        "note": grant.note or None,
    }


def _records(
    access: Access, *, now: float, mask: bool, keep: frozenset[str]
) -> list[dict[str, Any]]:
    return [record(g, now=now, mask=mask, keep=keep) for g in access.grants]


def render_json(access: Access, *, now: float, mask: bool, keep: frozenset[str]) -> str:
    doc = {
        "grants": _records(access, now=now, mask=mask, keep=keep),
        "incomplete": [
            {"accountKind": s.kind.value, "accountId": s.key, "reason": why}
            for s, why in access.incomplete
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def render_csv(access: Access, *, now: float, mask: bool, keep: frozenset[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in _records(access, now=now, mask=mask, keep=keep):
        writer.writerow([csv_cell(_cell(row[c])) for c in COLUMNS])
    return out.getvalue()


def _who(row: dict[str, Any]) -> str:
    if row["via"] is not None and row["userId"] is None and row["email"] is None:
        return f"(everyone, via {row['via']})"
    shown = row["email"] or "?"
    if row["manifestEmail"] and row["manifestEmail"] != row["email"]:
        shown = f"{shown} = {row['manifestEmail']}"
    return f"{shown} ({row['userId']})" if row["userId"] else shown


def _what(row: dict[str, Any]) -> str:
    what: str
    if row["role"]:
        what = str(row["role"])
    elif row["permissions"]:
        what = "permissions " + ", ".join(row["permissions"])
    else:
        what = "access"
    if row["countries"]:
        what += " in " + ", ".join(row["countries"])
    return what


def _from(row: dict[str, Any]) -> str:
    where = "live only" if row["source"] is None else row["source"]
    if row["group"]:
        where += f" (group {row['group']})"
    if row["via"] and row["userId"] is None and row["email"] is not None:
        where += f", via {row['via']}"
    return where


def _extra(row: dict[str, Any]) -> str:
    bits = []
    if row["expires"]:
        bits.append(f"expires {row['expires']}")
    if row["overdue"]:
        bits.append(f"review overdue since {row['reviewDue']}")
    if row["note"]:
        bits.append(row["note"])
    return "; ".join(bits)


def _lines(records: Sequence[dict[str, Any]]) -> list[tuple[str, str, str, str, str, str]]:
    return [
        (
            f"{r['accountKind']} {r['accountId']}",
            r["accountName"] or "",
            _who(r),
            f"{_what(r)}, {r['state']}",
            _from(r),
            _extra(r),
        )
        for r in records
    ]


def _footer(access: Access) -> list[str]:
    if not access.incomplete:
        return []
    out = ["", "Incomplete: these accounts could not be read in full; grants may be missing:"]
    out += [f"  {s}: {why}" for s, why in access.incomplete]
    return out


def render_text(access: Access, *, now: float, mask: bool, keep: frozenset[str]) -> str:
    records = _records(access, now=now, mask=mask, keep=keep)
    out = []
    for account, name, who, what, where, extra in _lines(records):
        line = f"{account}{f' ({name})' if name else ''}: {who}: {what}; {where}"
        out.append(terminal(line + (f"; {extra}" if extra else "")))
    out.append(
        f"{len(records)} grant{'s' if len(records) != 1 else ''}." if records else "No grants."
    )
    out += [terminal(line) for line in _footer(access)]
    return "\n".join(out) + "\n"


def render_markdown(access: Access, *, now: float, mask: bool, keep: frozenset[str]) -> str:
    records = _records(access, now=now, mask=mask, keep=keep)
    out = [
        "| Account | Name | Person | Access | From | Notes |",
        "|---|---|---|---|---|---|",
    ]
    for cells in _lines(records):
        out.append("| " + " | ".join(markdown(c) for c in cells) + " |")
    out.append("")
    out.append(f"{len(records)} grant{'s' if len(records) != 1 else ''}.")
    out += [markdown(line) for line in _footer(access)]
    return "\n".join(out) + "\n"


def render_review_due(items: Sequence[Due], output_format: str) -> str:
    """What `plan` and `drift` add after the plan: the grants whose access review is due,
    a class of their own (`[review due]`), never drift for the exit code. Nothing for JSON
    (the plan file holds the plan alone) or when nothing is due."""
    if not items or output_format == "json":
        return ""
    head = (
        f"Access review due: {len(items)} grant{'s' if len(items) != 1 else ''} "
        "(not drift; `reconciler review` writes the pull request that records the review):"
    )
    lines = [f"[review due] {i.account}: {i.who} ({i.role}) at {i.source}" for i in items]
    if output_format == "markdown":
        return "\n".join(["", markdown(head), *(f"- {markdown(x)}" for x in lines)]) + "\n"
    return "\n".join(["", terminal(head), *(f"  {terminal(x)}" for x in lines)]) + "\n"


RENDERERS = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
    "csv": render_csv,
}
