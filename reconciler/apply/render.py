"""An `ApplyReport` for people: one line per action as it finishes, and the verdict."""

from __future__ import annotations

from reconciler.apply.report import ActionResult, ApplyReport, Status
from reconciler.render.common import SYMBOL, counts, describe


def result_line(result: ActionResult) -> str:
    line = f"  {result.status.value:<8} {describe(result.action)}"
    if result.created_id is not None:
        line += f" -> {result.created_id}"
    if result.status in (Status.FAILED, Status.SKIPPED) and result.reason:
        line += f"\n           {result.reason}"
    return line


def render_report(report: ApplyReport) -> str:
    by = report.counts()
    done = by.get(Status.OK, 0) + by.get(Status.VERIFIED, 0)
    lines = [
        f"Apply {'interrupted' if report.interrupted else 'finished'}: {done} done "
        f"({by.get(Status.VERIFIED, 0)} verified), {by.get(Status.FAILED, 0)} failed, "
        f"{by.get(Status.SKIPPED, 0)} skipped; {report.write_calls} write call(s)."
    ]
    if report.failed:
        lines.append("Failed:")
        lines += [result_line(r) for r in report.failed]
    if report.interrupted:
        lines.append(
            "Stopped after the calls in flight. Nothing is lost: run `reconciler plan` to "
            "see what is left, then apply again."
        )
        return "\n".join(lines) + "\n"
    for problem in report.problems:
        lines.append(f"! {problem}")
    if report.verified and report.converged:
        lines.append("Converged: a re-read of live state shows nothing left to do.")
    elif report.verified:
        if report.remaining:
            lines.append(f"Not converged: a fresh plan still has {counts(report.remaining)}:")
            lines += [f"  {SYMBOL[a.kind]} {describe(a)}" for a in report.remaining]
        else:
            lines.append("Not converged: the re-read does not show every change.")
        lines.append("Fix the cause shown above, then run apply again: it does only what is left.")
    return "\n".join(lines) + "\n"
