"""Adaptive rate limiting: one pace per operation family under one pace for the whole client.

Amazon documents only that limits are "dynamic" (reference §1.5); in practice a client meets
one limit for all its calls and tighter ones on some operations, and 429s that may carry
`Retry-After` or not. So nothing here relies on `Retry-After`: each pace learns its rate from
what the server admitted, and a 429 cuts only the pace it is blamed on.

One pace (`_Pace`) spaces request starts at `1/rate`. It starts unlimited. The first 429
of an episode (the first ever, or the first after a quiet spell) sets the rate just under
what the server admitted over the last moments. Only requests sent after that cut judge it
(a 429 on a request sent at the old pace says nothing about the new one): once enough of
them answered, if more than `cut_share` of them were 429 the pace is still too fast, and it
is cut to just under what the server admitted of them (a starting burst can inflate the
first measure). A cut must lower the share of 429s, which a rate limit's 429s do and random
ones (a "storm", which comes whatever the pace) do not: a cut that did not is undone and the
episode cuts no more, so a storm cannot drag the rate to the floor. While no 429 comes the
rate rises slowly, so it follows a limit that moves ("dynamic", §1.5).

Which pace a 429 is blamed on (`RateLimiter.throttled`): the operation's family, unless
another family was throttled in the same moments too, which is what a client-wide limit
looks like; then the client pace is cut. With one family active the two cannot be told
apart, and cutting the family is then the same as cutting the client.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.api.policy import RetryPolicy

CLIENT = "*"  # the name of the client-wide pace in `RateLimiter.rates`


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request's slot: when it may start (`sent_at`) and how long it waited for it."""

    sent_at: float
    waited: float


class _Pace:
    """One adaptive rate. Not thread-safe: `RateLimiter` holds the lock and the clock."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.rate: float | None = policy.initial_rate
        self.next = 0.0
        self.started: float | None = None
        self.admitted: deque[float] = deque()  # completion times, any request
        self.last_cut = -math.inf
        self.last_throttle = -math.inf  # the last 429 blamed on this pace
        self.seen_throttle = -math.inf  # the last 429 on this family, whoever was blamed
        self.last_raise = 0.0
        self.episode_cuts = 0
        self.judged_share: float | None = None  # the 429 share that caused the last cut
        self.rate_before_cut: float | None = None
        # Responses to requests sent since the last cut: they judge the current pace.
        self.ok_since_cut = 0
        self.throttled_since_cut = 0
        self.last_sent = -math.inf

    def slot(self, now: float) -> float:
        if self.started is None:
            self.started = now
        return now if self.rate is None else max(now, self.next)

    def book(self, start: float) -> None:
        if self.rate is not None:
            self.next = start + 1.0 / self.rate

    def on_admitted(self, now: float, sent_at: float) -> None:
        self.admitted.append(now)
        horizon = now - 4 * self.policy.measure_window_s
        while self.admitted and self.admitted[0] < horizon:
            self.admitted.popleft()
        if sent_at >= self.last_cut:
            self.ok_since_cut += 1
            self.last_sent = max(self.last_sent, sent_at)
        if (
            self.rate is not None
            and now - self.last_throttle >= self.policy.increase_after_s
            and now - self.last_raise >= 0.25
        ):
            self.rate *= 1 + self.policy.increase_per_s * (now - self.last_raise)
            self.last_raise = now

    def on_throttled(self, now: float, sent_at: float) -> None:
        """Record a 429 blamed on this pace and cut the rate when it says the pace is too
        fast (module docstring)."""
        policy = self.policy
        # A quiet spell counts only if enough requests went through in it: at a slow pace a
        # second without 429 says nothing.
        quiet = (
            now - self.last_throttle >= policy.increase_after_s
            and sum(1 for t in self.admitted if t >= self.last_throttle) >= policy.judge_samples
        )
        self.last_throttle = now
        if sent_at < self.last_cut:
            return  # sent at the old pace
        self.throttled_since_cut += 1
        self.last_sent = max(self.last_sent, sent_at)
        if self.rate is None or quiet:
            self.episode_cuts = 0
            self._cut(now, self._admitted_rate(now), judged=None)
            return
        elapsed = now - self.last_cut
        samples = self.ok_since_cut + self.throttled_since_cut
        if (
            self.episode_cuts >= policy.max_episode_cuts
            or elapsed < policy.cut_interval_s
            or samples < policy.judge_samples
        ):
            return
        share = self.throttled_since_cut / samples
        if share < policy.cut_share:
            return
        if self.judged_share is not None and share > 0.75 * self.judged_share:
            # The last cut did not lower the share of 429s: they come whatever the pace (a
            # storm), so that cut only slowed us down. Undo it and cut no more this episode.
            self.rate = self.rate_before_cut
            self.episode_cuts = policy.max_episode_cuts
            return
        # What the server admitted of the requests sent at the current pace, over the time
        # they were sent in (not until now: the last ones' answers are still on the way).
        span = max(self.last_sent - self.last_cut, policy.cut_interval_s / 2)
        self._cut(now, self.ok_since_cut / span, judged=share)

    def _admitted_rate(self, now: float) -> float:
        started = self.started if self.started is not None else now
        window = min(self.policy.measure_window_s, now - started)
        if window <= 0.01:
            window = self.policy.measure_window_s
        rate = sum(1 for t in self.admitted if t >= now - window) / window
        return rate if rate > 0 else (self.rate or 2 * self.policy.min_rate) / 2

    def _cut(self, now: float, admitted: float, *, judged: float | None) -> None:
        self.rate_before_cut = self.rate
        base = admitted if self.rate is None else min(self.rate, admitted)
        self.rate = max(self.policy.min_rate, base * self.policy.backoff_factor)
        self.episode_cuts += 1
        self.judged_share = judged
        self.last_cut = now
        self.last_raise = now
        self.ok_since_cut = 0
        self.throttled_since_cut = 0
        self.last_sent = now


class RateLimiter:
    """A client-wide pace over one pace per operation family; shared by every thread of a
    client. `family(operation)` names the family (by default the operation itself)."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._families: Mapping[str, str] = dict(policy.families)
        self._client = _Pace(policy)
        self._paces: dict[str, _Pace] = {}

    def family(self, operation: str) -> str:
        return self._families.get(operation, operation)

    @property
    def rates(self) -> dict[str, float | None]:
        """Each pace's current rate (requests/second; None: unlimited), the client's as `*`."""
        with self._lock:
            return {CLIENT: self._client.rate} | {k: p.rate for k, p in self._paces.items()}

    def _pace(self, operation: str) -> _Pace:
        name = self.family(operation)
        pace = self._paces.get(name)
        if pace is None:
            pace = self._paces[name] = _Pace(self._policy)
        return pace

    def acquire(self, operation: str) -> Ticket:
        """Block until a request of `operation` may start, under both of its paces."""
        with self._lock:
            now = self._clock()
            if not self._policy.adaptive:
                return Ticket(now, 0.0)
            pace = self._pace(operation)
            start = max(self._client.slot(now), pace.slot(now))
            self._client.book(start)
            pace.book(start)
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return Ticket(start, max(0.0, wait))

    def admitted(self, operation: str, ticket: Ticket) -> None:
        """A response other than a throttle arrived."""
        with self._lock:
            now = self._clock()
            self._client.on_admitted(now, ticket.sent_at)
            self._pace(operation).on_admitted(now, ticket.sent_at)

    def throttled(self, operation: str, ticket: Ticket) -> None:
        """A throttle arrived: blame the family, or the client when other families were
        throttled in the same moments (module docstring)."""
        with self._lock:
            if not self._policy.adaptive:
                return
            now = self._clock()
            pace = self._pace(operation)
            recent = now - self._policy.measure_window_s
            shared = any(
                other is not pace and other.seen_throttle >= recent
                for other in self._paces.values()
            )
            pace.seen_throttle = now
            (self._client if shared else pace).on_throttled(now, ticket.sent_at)


class AdaptiveLimiter:
    """A single adaptive pace, for callers (and simulations) with one kind of request."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limiter = RateLimiter(policy, clock=clock, sleep=sleep)
        self._ticket = Ticket(0.0, 0.0)

    @property
    def rate(self) -> float | None:
        return self._limiter.rates.get("request")

    def acquire(self) -> float:
        """Block until the request may start; returns the seconds waited."""
        self._ticket = self._limiter.acquire("request")
        return self._ticket.waited

    def admitted(self) -> None:
        self._limiter.admitted("request", self._ticket)

    def throttled(self) -> None:
        self._limiter.throttled("request", self._ticket)
