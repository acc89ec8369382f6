"""`--format markdown`: a pull-request comment. A summary table, then one collapsible
`<details>` per account; `mask_emails` masks every address for public logs."""

from __future__ import annotations

import re

from reconciler.plan import Plan
from reconciler.render.common import (
    SYMBOL,
    counts,
    describe,
    describe_waiting,
    groups,
    summary_line,
)

# The first character of the local part survives, like the API's own masking
# (`a***@example.com`, reference §5); addresses already masked are left as they are.
_EMAIL = re.compile(r"(?<![\w.%+-])([A-Za-z0-9])[A-Za-z0-9._%+-]*@(?=[A-Za-z0-9-]+\.)")


def mask_addresses(text: str) -> str:
    return _EMAIL.sub(r"\1***@", text)


def _cell(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


def render_markdown(plan: Plan, *, mask_emails: bool) -> str:
    out: list[str] = ["## reconciler plan", "", f"**{summary_line(plan)}**", ""]
    all_groups = list(groups(plan))
    if all_groups:
        out += ["| Account | Add | Change | Remove | Waiting |", "|---|---:|---:|---:|---:|"]
        for g in all_groups:
            by = {s: sum(1 for a in g.actions if SYMBOL[a.kind] == s) for s in "+~-"}
            out.append(
                f"| {_cell(g.title)} | {by['+']} | {by['~']} | {by['-']} | {len(g.waiting)} |"
            )
        out.append("")
    for g in all_groups:
        what = counts(g.actions) or "no changes"
        if g.waiting:
            what += f"; {len(g.waiting)} waiting"
        out += [
            "<details>",
            f"<summary>{_cell(g.title)}: {what}</summary>",
            "",
            "| | Action | Why |",
            "|---|---|---|",
        ]
        for action in g.actions:
            out.append(
                f"| `{SYMBOL[action.kind]}` | {_cell(describe(action))} | {_cell(action.reason)} |"
            )
        for waiting in g.waiting:
            out.append(f"| `=` | {_cell(describe_waiting(waiting))} | pending, not a change |")
        out += ["", "</details>", ""]
    if plan.warnings:
        out += ["### Warnings", ""]
        out += [
            f"- `{n.scope}` {_cell(n.message)}" if n.scope else f"- {_cell(n.message)}"
            for n in plan.warnings
        ]
        out.append("")
    if plan.notes:
        out += ["<details>", f"<summary>Notes ({len(plan.notes)})</summary>", ""]
        out += [
            f"- `{n.scope}` {_cell(n.message)}" if n.scope else f"- {_cell(n.message)}"
            for n in plan.notes
        ]
        out += ["", "</details>", ""]
    text = "\n".join(out).rstrip("\n") + "\n"
    return mask_addresses(text) if mask_emails else text
