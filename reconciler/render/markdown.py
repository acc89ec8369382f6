"""`--format markdown`: a pull-request comment. A summary table, then one collapsible
`<details>` per account; `mask_emails` masks every address for public logs. Every string that
came from a manifest, the API or a plan file is escaped (`reconciler.escape
.markdown`), so none can add a heading, a link, an image, HTML or break the table."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.escape import markdown
from reconciler.plan import Plan
from reconciler.render.common import (
    SYMBOL,
    binding_lines,
    counts,
    coverage_section,
    describe,
    describe_waiting,
    digest_line,
    drift_view,
    groups,
    policy_lines,
    refused_line,
    sections,
    summary_line,
)
from reconciler.render.mask import mask_addresses

__all__ = ["mask_addresses", "render_markdown"]


def render_markdown(plan: Plan, *, mask_emails: bool, bindings: bool = False) -> str:
    def cell(text: str) -> str:
        return markdown(mask_addresses(text) if mask_emails else text)

    out: list[str] = ["## reconciler plan", ""]
    if plan.refusals:
        out += [f"> [!CAUTION]\n> **{refused_line(plan)}**", ""]
        out += [
            "| Guard | Account | Counted | Limit | Limit from | To lift |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {cell(r.guard)} | {cell(r.scope or 'whole plan')} | {cell(r.counted)} | "
            f"{cell(r.limit)} | {cell(r.source)} | {cell(r.lift)} |"
            for r in plan.refusals
        ]
        out.append("")
    out += [f"**{summary_line(plan)}**", ""]
    if plan.actions or bindings:
        out += [f"`{digest_line(plan)}`", ""]
    if bindings:
        out += [f"- {cell(line)}" for line in binding_lines(plan)] + [""]
    top, rest = sections(plan)[:1], sections(plan)[1:]
    for heading, _, items in top:
        if items:
            out += [f"### {heading.rstrip(':')}", ""] + [f"- {cell(i)}" for i in items] + [""]
    covered = coverage_section(plan)
    if covered is not None:
        heading, items = covered
        if items:
            out += ["<details>", f"<summary>{cell(heading.rstrip(':'))}</summary>", ""]
            out += [f"- {cell(i)}" for i in items] + ["", "</details>", ""]
        else:
            out += [cell(heading), ""]
    in_force = policy_lines(plan)
    if in_force:
        out += ["**Policy (not the defaults)**", ""]
        out += [f"- {cell(line)}" for line in in_force]
        out.append("")
    all_groups = list(groups(plan))
    if all_groups:
        out += ["| Account | Add | Change | Remove | Waiting |", "|---|---:|---:|---:|---:|"]
        for g in all_groups:
            by = {s: sum(1 for a in g.actions if SYMBOL[a.kind] == s) for s in "+~-"}
            out.append(
                f"| {cell(g.title)} | {by['+']} | {by['~']} | {by['-']} | {len(g.waiting)} |"
            )
        out.append("")
    for g in all_groups:
        what = counts(g.actions) or "no changes"
        if g.waiting:
            what += f"; {len(g.waiting)} waiting"
        out += [
            "<details>",
            f"<summary>{cell(g.title)}: {what}</summary>",
            "",
            "| | Action | Why |",
            "|---|---|---|",
        ]
        for action in g.actions:
            out.append(
                f"| `{SYMBOL[action.kind]}` | {cell(describe(action))} | {cell(action.reason)} |"
            )
        for waiting in g.waiting:
            out.append(f"| `=` | {cell(describe_waiting(waiting))} | pending, not a change |")
        out += ["", "</details>", ""]
    for heading, _, items in rest:
        if items:
            out += [f"### {heading.rstrip(':')}", ""] + [f"- {cell(i)}" for i in items] + [""]
    out += _drift(plan, cell)
    if plan.warnings:
        out += ["### Warnings", ""]
        out += [_notice(n.scope, cell(n.message)) for n in plan.warnings]
        out.append("")
    if plan.notes:
        out += ["<details>", f"<summary>Notes ({len(plan.notes)})</summary>", ""]
        out += [_notice(n.scope, cell(n.message)) for n in plan.notes]
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _drift(plan: Plan, cell: Callable[[str], str]) -> list[str]:
    """Every drift item with its class, in a collapsed table under the per-class counts
    ."""
    view = drift_view(plan)
    if not view.items:
        return []
    against = f" Against {cell(view.baseline)}." if view.baseline else ""
    out = ["<details>", f"<summary>{view.counts}{against}</summary>", ""]
    out += [view.hint, ""] if view.hint else []  # our own words, not escaped
    out += ["| Class | Account | What |", "|---|---|---|"]
    out += [
        f"| {label} | {cell(scope)} | {cell(message)} |" for label, scope, message in view.items
    ]
    return [*out, "", "</details>", ""]


def _notice(scope: str, message: str) -> str:
    # A scope is `kind:key`, the key from a manifest or the API: escaped, not in backticks.
    return f"- {markdown(scope)}: {message}" if scope else f"- {message}"
