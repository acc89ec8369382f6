"""`--format markdown`: a pull-request comment. A summary table, then one collapsible
`<details>` per account; `mask_emails` masks the addresses the manifests do not hold (`keep`)
for public logs. Every string that came from a manifest, the API or a plan file is escaped
(`reconciler.escape.markdown`), so none can add a heading, a link, an image, HTML or break
the table. `max_length` keeps a comment under a platform's limit: the summary and every
section stay, and the per-account detail that does not fit is left out, with a line that
says so and where the whole plan is."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.escape import markdown
from reconciler.plan import Plan
from reconciler.render.common import (
    SYMBOL,
    binding_lines,
    counts,
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


def render_markdown(
    plan: Plan,
    *,
    mask_emails: bool,
    bindings: bool = False,
    keep: frozenset[str] = frozenset(),
    max_length: int | None = None,
) -> str:
    def cell(text: str) -> str:
        return markdown(mask_addresses(text, keep) if mask_emails else text)

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
    head, details = out, list[str]()
    for g in all_groups:
        out = []
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
        details.append("\n".join(out) + "\n")
    out = []
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
    return _fit("\n".join(head) + "\n", details, "\n".join(out) + "\n" if out else "", max_length)


def _fit(head: str, details: list[str], tail: str, max_length: int | None) -> str:
    """head + as many per-account details as fit + tail, under `max_length` characters."""
    whole = (head + "".join(details) + tail).rstrip("\n") + "\n"
    if max_length is None or len(whole) <= max_length:
        return whole

    def note(left_out: int) -> str:
        return (
            f"> [!NOTE]\n> The detail of {left_out} of {len(details)} account(s) is left out: "
            f"this comment is limited to {max_length:,} characters. The whole plan is in the "
            "job summary and in the plan file (`reconciler show plan.json`).\n\n"
        )

    kept: list[str] = []
    for block in details:
        size = len(head) + sum(map(len, kept)) + len(block) + len(note(0)) + len(tail) + 1
        if size > max_length:
            break
        kept.append(block)
    text = (head + "".join(kept) + note(len(details) - len(kept)) + tail).rstrip("\n") + "\n"
    if len(text) <= max_length:
        return text
    # Even the summary does not fit: cut at a line, and say so.
    cut = note(len(details)) + "(cut here: the plan goes on in the job summary)\n"
    lines, size = [], len(cut)
    for line in text.splitlines(keepends=True):
        if size + len(line) > max_length:
            break
        lines.append(line)
        size += len(line)
    return "".join(lines) + cut


def _drift(plan: Plan, cell: Callable[[str], str]) -> list[str]:
    """Every drift item with its class, in a collapsed table under the per-class counts
    (issue #15)."""
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
