"""Apply: execute a `Plan` with an `AdsClient`, batched, journalled, verified.

- `apply_plan(plan, client, *, desired=None, journal=None, stop=None, ...) -> ApplyReport`
- `check_not_stale(plan, reader) -> Live`: raises `StalePlanError` listing what moved;
- `Journal(path)`: `--journal FILE`, one JSON line per action;
- `stop_on_signals(event)`: Ctrl-C / SIGTERM stop the apply after the calls in flight.
"""

from reconciler.apply.check import check_not_stale, read_scopes
from reconciler.apply.executor import MAX_ATTEMPTS, apply_plan, stop_on_signals
from reconciler.apply.journal import Journal
from reconciler.apply.report import EXIT_INTERRUPTED, ActionResult, ApplyReport, Status

__all__ = [
    "EXIT_INTERRUPTED",
    "MAX_ATTEMPTS",
    "ActionResult",
    "ApplyReport",
    "Journal",
    "Status",
    "apply_plan",
    "check_not_stale",
    "read_scopes",
    "stop_on_signals",
]
