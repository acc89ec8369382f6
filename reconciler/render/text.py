"""`--format text`: grouped by account, `+`/`-`/`~`, ANSI colour only when asked."""

from __future__ import annotations

from reconciler.plan import Plan
from reconciler.render.common import SYMBOL, describe, describe_waiting, groups, summary_line

_COLOURS = {"+": "32", "-": "31", "~": "33", "=": "36", "!": "33", "bold": "1"}


def render_text(plan: Plan, *, color: bool) -> str:
    def paint(code: str, text: str) -> str:
        return f"\x1b[{_COLOURS[code]}m{text}\x1b[0m" if color else text

    lines: list[str] = []
    for group in groups(plan):
        lines.append(paint("bold", group.title))
        for action in group.actions:
            symbol = SYMBOL[action.kind]
            lines.append(f"  {paint(symbol, symbol + ' ' + describe(action))}")
            lines.append(f"      {action.reason}")
        for waiting in group.waiting:
            lines.append(f"  {paint('=', '= ' + describe_waiting(waiting))}")
        lines.append("")
    for heading, notices, mark in (("Warnings:", plan.warnings, "!"), ("Notes:", plan.notes, "")):
        if notices:
            lines.append(paint("bold", heading))
            for notice in notices:
                where = f"{notice.scope}: " if notice.scope else ""
                text = f"{where}{notice.message}"
                lines.append(f"  {paint(mark, '! ' + text) if mark else '- ' + text}")
            lines.append("")
    lines.append(paint("bold", summary_line(plan)))
    return "\n".join(lines) + "\n"
