"""`--format markdown`: a pull-request comment. A summary table, then one collapsible
`<details>` per account; `mask_emails` masks the addresses the manifests do not hold (`keep`)
for public logs. Every string that came from a manifest, the API or a plan file is escaped
(`reconciler.escape.markdown`), so none can add a heading, a link, an image, HTML or break
the table. `max_length` keeps a comment under a platform's limit: the summary and every
section stay, and the per-account detail that does not fit is left out, with a line that
says so and where the whole plan is."""

from __future__ import annotations

import shlex
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


def render_markdown(
    plan: Plan,
    *,
    mask_emails: bool,
    bindings: bool = False,
    keep: frozenset[str] = frozenset(),
    max_length: int | None = None,
    plan_file: str | None = None,
) -> str:
    """`plan_file`: where this plan was saved, if it was (the note `max_length` adds points
    there)."""

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
    # (text, foldable): a foldable part is a collapsed <details> block that max_length may
    # leave out; the rest always stays.
    parts: list[tuple[str, bool]] = [("\n".join(out) + "\n", False)]
    for g in all_groups:
        what = counts(g.actions) or "no changes"
        if g.waiting:
            what += f"; {len(g.waiting)} waiting"
        out = [
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
        parts.append(("\n".join(out) + "\n", True))
    out = []
    for heading, _, items in rest:
        if items:
            out += [f"### {heading.rstrip(':')}", ""] + [f"- {cell(i)}" for i in items] + [""]
    parts.append(("\n".join(out) + "\n" if out else "", False))
    drift = _drift(plan, cell)
    parts.append(("\n".join(drift) + "\n" if drift else "", bool(drift)))
    out = []
    if plan.warnings:
        out += ["### Warnings", ""]
        out += [_notice(n.scope, cell(n.message)) for n in plan.warnings]
        out.append("")
    parts.append(("\n".join(out) + "\n" if out else "", False))
    if plan.notes:
        out = ["<details>", f"<summary>Notes ({len(plan.notes)})</summary>", ""]
        out += [_notice(n.scope, cell(n.message)) for n in plan.notes]
        out += ["", "</details>", ""]
        parts.append(("\n".join(out) + "\n", True))
    return _fit(parts, max_length, plan_file)


def _fit(parts: list[tuple[str, bool]], max_length: int | None, plan_file: str | None) -> str:
    """The parts in order, under `max_length` characters: every part that is not foldable,
    and the foldable ones (collapsed detail) that fit, in order; a note says what was left
    out and where the whole plan is."""

    def joined(texts: list[str]) -> str:
        return "".join(texts).rstrip("\n") + "\n"

    whole = joined([text for text, _ in parts])
    if max_length is None or len(whole) <= max_length:
        return whole
    folded = sum(1 for text, foldable in parts if foldable and text)

    where = "this command without `--max-length`, or the job summary on GitHub Actions"
    if plan_file is not None:
        show = f"reconciler show {shlex.quote(plan_file)}"
        shown = f"`{show}`" if "`" not in show and "\n" not in show else markdown(show)
        where = f"the plan file ({shown}), {where}"

    def note(left_out: int) -> str:
        return (
            f"> [!NOTE]\n> {left_out} of {folded} collapsed section(s) (the detail of each "
            f"account, the drift by class, the notes) left out: this comment is limited to "
            f"{max_length:,} characters. The whole plan: {where}.\n\n"
        )

    budget = max_length - sum(len(t) for t, f in parts if not f) - len(note(folded)) - 1
    kept: list[str] = []
    left_out = 0
    for text, foldable in parts:
        if not foldable or not text:
            kept.append(text)
        elif len(text) <= budget:
            kept.append(text)
            budget -= len(text)
        else:
            left_out += 1
    kept.insert(1, note(left_out))  # under the summary table, where a reader looks first
    text = joined(kept)
    if len(text) <= max_length:
        return text
    # Even what always stays does not fit: cut at a line, and say so once, at the end.
    cut = "(cut here)\n\n" + note(folded).rstrip("\n") + "\n"
    lines, size = [], len(cut)
    for line in joined([t for t, f in parts if not f]).splitlines(keepends=True):
        if size + len(line) > max_length:
            break
        lines.append(line)
        size += len(line)
    return "".join(lines) + cut


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
