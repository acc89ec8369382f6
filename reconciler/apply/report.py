"""What an apply did: one `ActionResult` per planned action, and the verdict of the re-read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL
from reconciler.model import Live
from reconciler.plan import Action

__all__ = ["EXIT_INTERRUPTED", "ActionResult", "ApplyReport", "Status"]


class Status(StrEnum):
    OK = "ok"  # the API accepted it; the re-read has not confirmed it (yet)
    VERIFIED = (
        "verified"  # the API accepted it (or its lost answer was checked) and a re-read shows it
    )
    FAILED = "failed"  # the API refused it, or its outcome stayed unknown; `reason` says why
    SKIPPED = "skipped"  # never sent: interrupted, or what it depends on failed


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: Action
    status: Status
    reason: str = ""
    attempts: int = 0  # write calls that carried this action
    created_id: str | None = None  # create-manager-account: the new managerAccountId

    @property
    def done(self) -> bool:
        return self.status in (Status.OK, Status.VERIFIED)


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """Per action, in plan order, what happened; then what the re-read after the apply saw.

    `converged` is True when the re-read shows nothing left to do: with the manifests, a
    fresh plan is empty; with a saved plan alone, every action's effect is visible.
    `remaining` holds the actions a fresh plan still wants (manifests known), `problems`
    anything that kept the verification from being sure (a failed re-read, a refused plan).
    """

    results: tuple[ActionResult, ...] = ()
    interrupted: bool = False
    verified: bool = False  # the re-read ran
    converged: bool = False
    remaining: tuple[Action, ...] = ()
    problems: tuple[str, ...] = ()
    write_calls: int = 0
    # The re-read the verification made (touched scopes only), for the caller's own checks.
    fresh: Live | None = field(default=None, compare=False, repr=False)

    def counts(self) -> dict[Status, int]:
        counts = Counter(result.status for result in self.results)
        return {status: counts[status] for status in Status if counts[status]}

    @property
    def failed(self) -> tuple[ActionResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAILED)

    @property
    def skipped(self) -> tuple[ActionResult, ...]:
        return tuple(r for r in self.results if r.status is Status.SKIPPED)

    @property
    def exit_code(self) -> int:
        """0 all done and converged; 130 interrupted; 3 anything failed or not converged."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.failed or self.skipped or (self.verified and not self.converged):
            return EXIT_PARTIAL
        return EXIT_OK
