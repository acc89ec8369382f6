"""Execute a `Plan` (never the manifests) with an `AdsClient`.

- Phases in order: creates, then grants, then removals (`Action.phase`), so nobody is locked
  out halfway. A scope's removals and demotions are sent only when all of that scope's
  grants took effect, and never one that, counting what this apply actually did, leaves an
  AMC account with fewer admins than `minAdmins` (or than it had), or none.
  Within a phase the scopes are independent and run concurrently (bounded by
  the client's concurrency; the client's limiter keeps the pace), each scope's calls in plan
  order.
- The id a create returns is substituted into the associate actions of that manager account.
  Right before a create is sent the home region is read again: a manager account of that
  name made since the plan (another apply) is used instead of creating a second one.
- Each call's per-item answer is mapped back to its action; the rest goes on.
- A call whose answer was lost (`OutcomeUnknownError`) is never re-sent blind: the scope is
  re-read first and only what did not happen is sent again, at most `max_attempts` times in
  all. So no duplicate invitation, no duplicate manager account, no double work.
- `stop` (set by Ctrl-C / SIGTERM through `stop_on_signals`) ends the apply after the calls
  in flight; what was not sent is reported as skipped. Nothing is lost on a kill either:
  the next plan shows what is left.
- Afterwards the touched scopes are re-read and each action's effect is checked
  (`check.verdict`). Whether live state converged (a fresh plan from the manifests is empty)
  is the apply operation's question (`reconciler.workflows.operations`), not the executor's: the
  executor never calls the planner.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType

from reconciler.api import AdsClient
from reconciler.apply import check
from reconciler.apply.batches import Batch, Item, Outcome, make_batches, send
from reconciler.apply.check import State
from reconciler.apply.journal import Journal
from reconciler.apply.report import ActionResult, ApplyReport, Status
from reconciler.errors import ApiError, AuthError, ConfigError, OutcomeUnknownError
from reconciler.model import Live, Role, Scope
from reconciler.plan import PHASE_REMOVE, ActionKind, Plan
from reconciler.redact import redact

# Sends of one action, counting the first: two re-sends after a lost answer, each after a
# re-read showed it had not happened. Easy to change; the re-read makes any number safe.
MAX_ATTEMPTS = 3


def apply_plan(
    plan: Plan,
    client: AdsClient,
    *,
    journal: Journal | None = None,
    stop: threading.Event | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    verify: bool = True,
    on_result: Callable[[ActionResult], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> ApplyReport:
    """Apply `plan.actions` exactly, then re-read the touched scopes and verify each action
    (module docstring). Never raises for a refused or failed action (see the report); raises
    only for a bug."""
    run = _Run(plan, client, journal, stop or threading.Event(), max_attempts, on_result)
    for phase in sorted({action.phase for action in plan.actions}):
        run.phase([(i, a) for i, a in enumerate(plan.actions) if a.phase == phase])
    results = tuple(run.results[i] for i in range(len(plan.actions)))
    report = ApplyReport(results=results, interrupted=run.interrupted, write_calls=run.calls)
    if not verify or run.interrupted or not plan.actions:
        return replace(
            report, verified=not run.interrupted and not plan.actions, converged=not plan.actions
        )
    if on_phase is not None:
        on_phase("verifying")
    return _verify(report, plan, client, run.created)


class _Run:
    """One apply in progress. Mutable, private, guarded by `lock`."""

    def __init__(
        self,
        plan: Plan,
        client: AdsClient,
        journal: Journal | None,
        stop: threading.Event,
        max_attempts: int,
        on_result: Callable[[ActionResult], None] | None,
    ) -> None:
        self.plan = plan
        self.client = client
        self.journal = journal
        self.stop = stop
        self.max_attempts = max(1, max_attempts)
        self.on_result = on_result
        self.lock = threading.Lock()
        self.results: dict[int, ActionResult] = {}
        self.created: dict[str, str] = {}  # manager account name -> id created in this apply
        self.not_created: set[str] = set()
        self.abort: str | None = None  # why nothing more may be sent (credentials refused)
        # scope -> plan positions of its creates and grants, which its removals wait for
        self.grants: dict[Scope, list[int]] = {}
        for i, action in enumerate(plan.actions):
            if action.phase < PHASE_REMOVE:
                self.grants.setdefault(action.scope, []).append(i)
        self.calls = 0

    @property
    def interrupted(self) -> bool:
        return self.stop.is_set()

    def record(
        self,
        item: Item,
        status: Status,
        reason: str = "",
        *,
        attempts: int = 0,
        created_id: str | None = None,
    ) -> None:
        result = ActionResult(item[1], status, redact(reason), attempts, created_id)
        with self.lock:
            self.results[item[0]] = result
            if result.action.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
                if result.created_id is not None:
                    self.created[result.action.target] = result.created_id
                elif not result.done:
                    self.not_created.add(result.action.target)
        if self.journal is not None:
            self.journal.record(result)
        if self.on_result is not None:
            self.on_result(result)

    def phase(self, items: list[Item]) -> None:
        by_scope: dict[Scope, list[Item]] = {}
        for item in items:
            by_scope.setdefault(item[1].scope, []).append(item)
        workers = max(1, min(len(by_scope), self.client.max_concurrency))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply") as pool:
            for _ in pool.map(self.scope, by_scope.values()):
                pass

    def scope(self, items: list[Item]) -> None:
        if items and items[0][1].phase == PHASE_REMOVE:
            items = self._gate_removals(items)
        for batch in make_batches(items):
            self.batch(batch)

    def _gate_removals(self, items: list[Item]) -> list[Item]:
        """Removals and demotions of one scope wait for that scope's grants: if any failed or
        was skipped, none is sent. Then the admin rule is counted on what actually happened
        (live admins at plan time, plus promotions that took effect): a removal or demotion
        that would leave fewer than `minAdmins` (or fewer than there were, if that is less),
        or none at all, is not sent. Skipped items are reported; the next apply does them
        once the grants hold."""
        scope = items[0][1].scope
        with self.lock:
            earlier = [self.results.get(i) for i in self.grants.get(scope, ())]
        failed = [r for r in earlier if r is None or not r.done]
        if failed:
            first = failed[0]
            what = (
                f"{first.action.kind.value} {first.action.target} {first.status.value}"
                if first is not None
                else "a grant was not sent"
            )
            why = (
                f"not sent: a grant in {scope} did not take effect ({what}); removals wait "
                "for their grants, so the next apply does this once the grants hold"
            )
            for item in items:
                self.record(item, Status.SKIPPED, why)
            return []
        if items[0][1].account is None:  # links: nobody's access
            return items
        return self._keep_admins(items, earlier)

    def _keep_admins(self, items: list[Item], earlier: list[ActionResult | None]) -> list[Item]:
        where = items[0][1].account
        account = next((a for a in self.plan.live.accounts if a.scope == where), None)
        before = {u.user_id for u in account.users if u.role is Role.ADMIN} if account else set()
        admins = set(before)
        for result in earlier:
            action = result.action if result is not None else None
            if (
                action is not None
                and action.kind is ActionKind.SET_ROLE
                and action.role is Role.ADMIN
            ):
                admins.add(action.target)  # a promotion that took effect (grants all done)
        # By typed address: a DSP and an AMC account may share an `ENTITY…` id.
        minimum = self.plan.min_admins.get(str(where), 1)
        floor = 1 if self.plan.policy.allow_fewer_admins else max(1, min(minimum, len(before)))
        send: list[Item] = []
        for item in items:
            action = item[1]
            # Admin over fewer countries is still admin: only a revoke or another role
            # takes an admin away.
            leaves = action.kind is ActionKind.REVOKE_USER or (
                action.kind is ActionKind.SET_ROLE and action.role is not Role.ADMIN
            )
            if action.target in admins and leaves:
                if len(admins) - 1 < floor:
                    self.record(
                        item,
                        Status.SKIPPED,
                        f"not sent: it would leave {len(admins) - 1} active admin(s) in "
                        f"{action.scope}, fewer than {floor} (minAdmins {minimum}, counting "
                        "what this apply did); the next apply does it once enough admins hold",
                    )
                    continue
                admins.discard(action.target)  # counted as gone before it is sent
            send.append(item)
        return send

    def _why_not(self, batch: Batch) -> str | None:
        if self.stop.is_set():
            return "interrupted before it was sent"
        if self.abort is not None:
            return self.abort
        first = batch.items[0][1]
        needs_id = first.kind is not ActionKind.CREATE_MANAGER_ACCOUNT
        if needs_id and first.manager is not None:
            if check.manager_id_of(first, self.created) is not None:
                return None
            name = first.manager.name
            if name in self.not_created:
                return f"manager account {name!r} was not created"
            return f"manager account {name!r} has no id"
        return None

    def batch(self, batch: Batch) -> None:
        pending = list(batch.items)
        attempt = 0
        while pending:
            why_not = self._why_not(batch)
            if why_not is not None:
                for item in pending:
                    self.record(item, Status.SKIPPED, why_not, attempts=attempt)
                return
            if attempt == 0 and batch.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
                pending = self._adopt(pending)
                if not pending:
                    return
            attempt += 1
            sent = Batch(batch.kind, tuple(pending))
            with self.lock:
                self.calls += 1
            try:
                outcomes = send(
                    self.client, sent, manager_id=check.manager_id_of(pending[0][1], self.created)
                )
            except OutcomeUnknownError as exc:
                lost = f"HTTP {exc.status}" if exc.status else "no response"
                pending = self._settle(pending, attempt, f"the answer was lost ({lost})")
                continue
            except (AuthError, ConfigError) as exc:
                self.abort = f"not sent: an earlier call failed with {exc}"
                for item in pending:
                    self.record(item, Status.FAILED, str(exc), attempts=attempt)
                return
            except ApiError as exc:
                for item in pending:
                    self.record(item, Status.FAILED, str(exc), attempts=attempt)
                return
            unknown: list[Item] = []
            refused: dict[int, str] = {}
            for item in pending:
                outcome = outcomes[item[0]]
                if outcome.outcome is Outcome.OK:
                    self.record(item, Status.OK, attempts=attempt, created_id=outcome.created_id)
                elif outcome.outcome is Outcome.FAILED:
                    refused[item[0]] = outcome.reason
                else:
                    unknown.append(item)
            # Unknown items are settled by a re-read, never re-sent: the call did answer.
            if unknown:
                self._settle(unknown, self.max_attempts, "the answer named no result")
            if refused:
                self._recheck([i for i in pending if i[0] in refused], refused, attempt)
            pending = []

    def _adopt(self, items: list[Item]) -> list[Item]:
        """Before the first create of a manager account: if one with that name appeared since
        the plan (another apply made it), take it instead of creating a second one (record it
        verified with its id; the associates then go into it). Return what to send."""
        send: list[Item] = []
        for item in items:
            action = item[1]
            try:
                fresh = check.read_home(action, self.client.reader())
            except ApiError as exc:
                fresh = None
                unread = str(exc)
            if fresh is not None:
                seen = check.verdict(action, fresh, self.plan.live, self.created)
                unread = seen.reason if seen.state is State.UNKNOWN else ""
            if fresh is not None and seen.ambiguous:
                self.record(item, Status.FAILED, f"not created: {seen.reason}")
            elif fresh is None or seen.state is State.UNKNOWN:
                # Sending blind could make a duplicate that can never be deleted; a create
                # not sent is only postponed to the next apply.
                self.record(
                    item,
                    Status.FAILED,
                    f"not sent: the re-read before creating it failed ({unread}); run the "
                    "apply again",
                )
            elif seen.state is State.DONE:
                self.record(
                    item,
                    Status.VERIFIED,
                    f"not created: {action.target!r} ({seen.created_id}) was created since the "
                    "plan (another apply?); using it",
                    created_id=seen.created_id,
                )
            else:
                send.append(item)
        return send

    def _recheck(self, items: list[Item], refused: dict[int, str], attempt: int) -> None:
        """A refused item whose effect is in place anyway (another apply, or a person, did it
        meanwhile: DUPLICATE_INVITATION, NOT_FOUND on a revoke, ...) is done, not failed: the
        re-read decides."""
        fresh: Live | None = None
        unread = ""
        try:
            fresh = check.read_scopes(
                self.plan.live, [a for _, a in items], self.client.reader(), created=self.created
            )
        except ApiError as exc:
            unread = f"; the re-read failed: {exc}"
        for item in items:
            reason = refused[item[0]]
            if fresh is None:
                self.record(item, Status.FAILED, reason + unread, attempts=attempt)
                continue
            # Say why the re-read could not settle it: a bare refusal would hide that the
            # effect may well be in place (run `reconciler plan` to see).
            seen = check.verdict(item[1], fresh, self.plan.live, self.created)
            if seen.state is State.UNKNOWN:
                why = f"{reason}; the re-read could not tell whether it is in place ({seen.reason})"
                self.record(item, Status.FAILED, why, attempts=attempt)
            elif seen.state is State.DONE:
                why = f"refused ({reason}), but the re-read shows it done"
                self.record(item, Status.VERIFIED, why, attempts=attempt)
            else:
                self.record(item, Status.FAILED, reason, attempts=attempt)

    def _settle(self, pending: list[Item], attempt: int, why: str) -> list[Item]:
        """Re-read the scope after an unknown outcome: record what happened, return what did
        not and may be sent again."""
        try:
            fresh = check.read_scopes(
                self.plan.live, [a for _, a in pending], self.client.reader(), created=self.created
            )
        except ApiError as exc:
            for item in pending:
                self.record(
                    item, Status.FAILED, f"{why}; the re-read failed too: {exc}", attempts=attempt
                )
            return []
        retry: list[Item] = []
        for item in pending:
            seen = check.verdict(item[1], fresh, self.plan.live, self.created)
            if seen.state is State.UNKNOWN:
                self.record(
                    item,
                    Status.FAILED,
                    f"{why}; the re-read could not tell whether it happened ({seen.reason}): "
                    "run `reconciler plan` to see",
                    attempts=attempt,
                )
                continue
            if seen.state is State.DONE:
                done = "created" if seen.created_id else "done"
                self.record(
                    item,
                    Status.VERIFIED,
                    f"{why}; the re-read shows it {done}",
                    attempts=attempt,
                    created_id=seen.created_id,
                )
                continue
            if attempt >= self.max_attempts:
                self.record(
                    item,
                    Status.FAILED,
                    f"{why}; still not done after {attempt} attempt(s)",
                    attempts=attempt,
                )
            else:
                retry.append(item)
        return retry


def _verify(
    report: ApplyReport, plan: Plan, client: AdsClient, created: dict[str, str]
) -> ApplyReport:
    """Re-read only the scopes the plan touched, and mark each accepted action verified
    where the re-read shows it."""
    try:
        fresh = check.read_scopes(plan.live, plan.actions, client.reader(), created=created)
    except ApiError as exc:
        return replace(report, problems=(redact(f"the re-read after the apply failed: {exc}"),))
    problems: list[str] = []
    results = []
    for result in report.results:
        if result.status is Status.OK:
            seen = check.verdict(result.action, fresh, plan.live, created)
            if seen.state is State.DONE:
                result = replace(result, status=Status.VERIFIED)
            elif seen.state is State.UNKNOWN:
                action = result.action
                problems.append(
                    f"{action.scope}: cannot verify {action.kind.value} {action.target}: "
                    f"{seen.reason}"
                )
        results.append(result)
    return replace(
        report,
        results=tuple(results),
        verified=True,
        converged=all(r.status is Status.VERIFIED for r in results) and not problems,
        problems=tuple(problems),
        fresh=fresh,
    )


@contextmanager
def stop_on_signals(
    stop: threading.Event, *, on_stop: Callable[[], None] | None = None
) -> Iterator[threading.Event]:
    """While inside, the first SIGINT or SIGTERM sets `stop` (the apply ends after the calls in
    flight); a second one interrupts at once. Outside the main thread this does nothing:
    Python delivers signals to the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if on_stop is not None:
            on_stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
