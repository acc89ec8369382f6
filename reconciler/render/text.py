"""`--format text`: grouped by account, `+`/`-`/`~`, ANSI colour only when asked. Every
string that came from a manifest, the API or a plan file is escaped for the terminal
(`reconciler.escape.terminal`), after masking when `mask_emails` (what the manifests hold,
`keep`, is shown as written)."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.escape import terminal
from reconciler.plan import DriftClass, Plan
from reconciler.planning.drift import LABEL
from reconciler.render.common import (
    SYMBOL,
    binding_lines,
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

_COLOURS = {"+": "32", "-": "31", "~": "33", "=": "36", "!": "33", "x": "31", "bold": "1"}


def render_text(
    plan: Plan,
    *,
    color: bool,
    mask_emails: bool = False,
    bindings: bool = False,
    show_waiting: bool = True,
    keep: frozenset[str] = frozenset(),
) -> str:
    """The plan for a terminal. `show_waiting=False` (the CLI's default) says how many
    invitations wait in each account instead of one line each, so forty of them do not push
    the real changes off the screen above the prompt; `--show-waiting` lists them."""

    def paint(code: str, text: str) -> str:
        return f"\x1b[{_COLOURS[code]}m{text}\x1b[0m" if color else text

    def safe(text: str) -> str:
        return terminal(mask_addresses(text, keep) if mask_emails else text)

    lines: list[str] = []
    if plan.refusals:
        lines.append(paint("x", paint("bold", refused_line(plan))))
        for r in plan.refusals:
            where = f"{r.scope}: " if r.scope else ""
            lines.append(f"  {paint('x', 'x ' + safe(where + r.guard))}")
            lines.append(f"      counted: {safe(r.counted)}")
            lines.append(f"      limit:   {safe(r.limit)} ({safe(r.source)})")
            lines.append(f"      to lift: {safe(r.lift)}")
        lines.append("")
    top, rest = sections(plan)[:1], sections(plan)[1:]
    for heading, _mark, items in top:
        if items:
            lines.append(paint("bold", heading))
            lines += [f"  {paint('!', '! ' + safe(item))}" for item in items]
            lines.append("")
    covered = coverage_section(plan)
    if covered is not None:
        lines.append(paint("bold", safe(covered[0])))
        lines += [f"  - {safe(item)}" for item in covered[1]]
        lines.append("")
    in_force = policy_lines(plan)
    if in_force:
        lines.append(paint("bold", "Policy (not the defaults):"))
        lines += [f"  {safe(line)}" for line in in_force]
        lines.append("")
    for group in groups(plan):
        lines.append(paint("bold", safe(group.title)))
        for action in group.actions:
            symbol = SYMBOL[action.kind]
            lines.append(f"  {paint(symbol, symbol + ' ' + safe(describe(action)))}")
            lines.append(f"      {safe(action.reason)}")
        if show_waiting:
            for waiting in group.waiting:
                lines.append(f"  {paint('=', '= ' + safe(describe_waiting(waiting)))}")
        elif group.waiting:
            n = len(group.waiting)
            count = f"{n} invitation{'s' if n > 1 else ''} waiting to be accepted"
            lines.append(f"  {paint('=', f'= {count} (--show-waiting lists them)')}")
        lines.append("")
    for heading, mark, items in rest:
        if items:
            lines.append(paint("bold", heading))
            for item in items:
                lines.append(f"  {paint(mark, '! ' + safe(item)) if mark else '- ' + safe(item)}")
            lines.append("")
    for heading, notices, mark in (("Warnings:", plan.warnings, "!"), ("Notes:", plan.notes, "")):
        if notices:
            lines.append(paint("bold", heading))
            for notice in notices:
                where = f"{notice.scope}: " if notice.scope else ""
                text = safe(f"{where}{notice.message}")
                lines.append(f"  {paint(mark, '! ' + text) if mark else '- ' + text}")
            lines.append("")
    lines += _drift(plan, safe, lambda text: paint("bold", text), show_waiting=show_waiting)
    lines.append(paint("bold", summary_line(plan)))
    if plan.actions or bindings:
        lines.append(digest_line(plan))
    if bindings:
        lines += [safe(line) for line in binding_lines(plan)]
    return "\n".join(lines) + "\n"


def _drift(
    plan: Plan,
    safe: Callable[[str], str],
    bold: Callable[[str], str],
    *,
    show_waiting: bool = True,
) -> list[str]:
    """Every drift item with its class, then the per-class counts. Without
    `show_waiting`, invitations waiting to be accepted are only counted."""
    view = drift_view(plan)
    items = view.items
    if not show_waiting:
        items = [i for i in items if i[0] != LABEL[DriftClass.WAITING]]
    tail = [bold(view.counts)] if view.counts else []
    tail += [safe(view.hint)] if view.hint else []
    if not items:
        return [*tail, ""] if tail else []
    against = f" (against {safe(view.baseline)})" if view.baseline else ""
    lines = [bold(f"Drift by class{against}:")]
    lines += [
        f"  [{label}] {safe(f'{scope}: {message}' if scope else message)}"
        for label, scope, message in items
    ]
    return [*lines, "", *tail]
