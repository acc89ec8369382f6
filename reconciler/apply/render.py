"""An `ApplyReport` for people: one line per action as it finishes, and the verdict."""

from __future__ import annotations

from reconciler.apply.report import ActionResult, ApplyReport, Status
from reconciler.escape import terminal
from reconciler.render.common import SYMBOL, counts, describe
from reconciler.render.mask import mask_addresses


def result_line(
    result: ActionResult, *, mask_emails: bool = False, keep: frozenset[str] = frozenset()
) -> str:
    """`  ok       amc:ENTITY1: invite x@agency.example as viewer`: every line names its
    account, and every untrusted string in it is escaped for the terminal."""

    def safe(text: str) -> str:
        return terminal(mask_addresses(text, keep) if mask_emails else text)

    action = result.action
    line = f"  {result.status.value:<8} {safe(f'{action.scope}: {describe(action)}')}"
    if result.created_id is not None:
        line += f" -> {safe(result.created_id)}"
    if result.status in (Status.FAILED, Status.SKIPPED) and result.reason:
        line += f"\n           {safe(result.reason)}"
    return line


def render_report(
    report: ApplyReport, *, mask_emails: bool = False, keep: frozenset[str] = frozenset()
) -> str:
    by = report.counts()
    done = by.get(Status.OK, 0) + by.get(Status.VERIFIED, 0)
    lines = [
        f"Apply {'interrupted' if report.interrupted else 'finished'}: {done} done "
        f"({by.get(Status.VERIFIED, 0)} verified), {by.get(Status.FAILED, 0)} failed, "
        f"{by.get(Status.SKIPPED, 0)} skipped; {report.write_calls} write call(s)."
    ]
    if report.failed:
        lines.append("Failed:")
        lines += [result_line(r, mask_emails=mask_emails, keep=keep) for r in report.failed]
    if report.skipped and not report.interrupted:
        lines.append("Not sent:")
        lines += [result_line(r, mask_emails=mask_emails, keep=keep) for r in report.skipped]
    if report.interrupted:
        lines.append(
            "Stopped after the calls in flight. Nothing is lost: run `reconciler plan` to "
            "see what is left, then apply again."
        )
        return "\n".join(lines) + "\n"
    for problem in report.problems:
        lines.append(f"! {terminal(mask_addresses(problem, keep) if mask_emails else problem)}")
    if report.verified and report.converged:
        lines.append("Converged: a re-read of live state shows nothing left to do.")
    elif report.verified:
        if report.remaining:
            lines.append(f"Not converged: a fresh plan still has {counts(report.remaining)}:")
            lines += [
                f"  {SYMBOL[a.kind]} {terminal(f'{a.scope}: {describe(a)}')}"
                for a in report.remaining
            ]
        else:
            lines.append("Not converged: the re-read does not show every change.")
        lines.append("Fix the cause shown above, then run apply again: it does only what is left.")
    return "\n".join(lines) + "\n"
