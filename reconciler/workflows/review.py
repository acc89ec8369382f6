"""`reconciler review PATH...`: the access-review pull request. Every grant whose review is
due (`policy: {reviewEvery: 90d}`, `reviewed:` on entries, group entries and members) gets
`reviewed: <today>` on the entry that grants it on that account (a group's entry on the
account, not the group: the review is of this account's access), with the one manifest
editor. Merging the pull request records the review; deleting an entry in it ends the
grant. The body lists the due grants per account, with the account's `owners:`.

Reads nothing live: git alone says what was reviewed when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.addresses import escaped
from reconciler.escape import markdown
from reconciler.manifest.edit import Editor
from reconciler.model import Desired, Source
from reconciler.planning.review import Due, due
from reconciler.render.mask import mask_addresses
from reconciler.workflows.adopt import Adoption


@dataclass(frozen=True, slots=True)
class ReviewEdit:
    adoption: Adoption
    due: tuple[Due, ...] = ()


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def review(desired: Desired, *, now: float) -> ReviewEdit:
    """`reviewed: <today>` on each entry that grants a due grant (once per entry)."""
    today = _day(now)
    editor = Editor()
    done: set[Source] = set()
    items = due(desired, now=now)
    for item in items:
        if item.source in done:
            continue
        done.add(item.source)
        what = f"{item.account}: {item.who} ({item.role}) reviewed {today}"
        editor.set_value(item.source, "reviewed", today, what)
    files = editor.results()
    return ReviewEdit(Adoption(tuple(files), tuple(editor.adopted), tuple(editor.skipped)), items)


def body(items: tuple[Due, ...], *, now: float, mask: bool = False) -> str:
    """The pull request's body (markdown; every name and address escaped; with `mask`,
    every address masked first: a pull request is as public as the repository)."""
    if not items:
        return "No access is due for review.\n"
    out = [
        "## Access review",
        "",
        f"{len(items)} grant{'s' if len(items) != 1 else ''} due for review on {_day(now)}. "
        "Merging this pull request records that each one below was reviewed today "
        "(`reviewed:` moves to today); to end a grant instead, delete its entry in this "
        "pull request before merging.",
    ]
    accounts: dict[str, list[Due]] = {}
    for item in items:
        accounts.setdefault(item.account, []).append(item)
    for account, rows in accounts.items():
        owners = rows[0].owners
        out += ["", f"### {markdown(account)}"]
        if owners:
            out.append("Owners: " + ", ".join(markdown(o) for o in owners))
        for row in rows:
            last = _day(row.reviewed) if row.reviewed is not None else "never"
            via = f" through group {markdown(row.group)}" if row.group else ""
            out.append(
                f"- {markdown(mask_addresses(escaped(row.who)) if mask else escaped(row.who))}: "
                f"{row.role}{via} "
                f"({markdown(str(row.source))}), last reviewed {last}"
            )
    return "\n".join(out) + "\n"
