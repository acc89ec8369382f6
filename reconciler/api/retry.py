"""Retries and adaptive rate limiting: a wrapper around "send one request", with an immutable
policy. Reference §1.5: a throttled request gets 429 with `Retry-After` (seconds); retry 429
and 5xx with exponential backoff, a maximum delay and a maximum retry count; never retry
other 4xx.

What is retried:
- reads: 429, 5xx, and every connection failure;
- writes: only 429 (the server did not process it) and failures that provably happened before
  the request left (connect errors, a token that could not be fetched). A 5xx or a connection
  lost after sending is ambiguous: `OutcomeUnknownError`, never re-sent.

The limiter is shared by every thread of a client. It starts unlimited; on a 429 that looks
like a rate limit it sets its rate just under the rate the server actually admitted over the
last moments (so it settles at the server's limit rather than far below it), then raises the
rate slowly while no 429 comes. Random 429s ("storms") do not drag the rate down: the
throttled request waits its Retry-After and the others go on.
"""

from __future__ import annotations

import email.utils
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from reconciler.api.events import ClientEvent, EventKind, StatsRecorder
from reconciler.api.translate import api_error, describe
from reconciler.errors import ApiError, OutcomeUnknownError, ThrottledError, TransportError
from reconciler.redact import redact


class NotSentError(Exception):
    """An attempt failed before the request left this process: always safe to retry."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6  # per request, for 5xx and connection failures
    max_throttled_attempts: int = 15  # per request, for 429
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0  # a larger Retry-After is clamped to this
    # Adaptive rate limiting (shared by all threads of one client).
    adaptive: bool = True
    initial_rate: float | None = None  # requests/second; None: unlimited until the first 429
    min_rate: float = 5.0
    backoff_factor: float = 0.95  # new rate = factor x the rate the server admitted
    measure_window_s: float = 0.5
    cut_interval_s: float = 0.5  # 429s closer together than this are one episode
    cut_share: float = 0.3  # a share of 429s this high means "far above the limit"
    increase_after_s: float = 1.0  # quiet time before the rate rises again
    increase_per_s: float = 0.02  # +2% per second while quiet

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** max(0, attempt - 1))
        return ceiling * (0.5 + 0.5 * rng.random())


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, float(when.timestamp()) - current)


class AdaptiveLimiter:
    """Spaces request starts at `1/rate` seconds; the rate adapts to 429s (module docstring)."""

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
        self._rate = policy.initial_rate
        self._next = 0.0
        self._started: float | None = None
        self._admitted: deque[float] = deque()
        self._throttled: deque[float] = deque()
        self._last_cut = -math.inf
        self._last_throttle = -math.inf
        self._last_raise = 0.0

    @property
    def rate(self) -> float | None:
        return self._rate

    def acquire(self) -> float:
        """Block until this request may start; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            if self._started is None:
                self._started = now
            if self._rate is None or not self._policy.adaptive:
                return 0.0
            start = max(now, self._next)
            self._next = start + 1.0 / self._rate
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def admitted(self) -> None:
        """A response other than 429 arrived."""
        with self._lock:
            now = self._clock()
            self._admitted.append(now)
            horizon = now - 4 * self._policy.measure_window_s
            for times in (self._admitted, self._throttled):
                while times and times[0] < horizon:
                    times.popleft()
            if (
                self._rate is not None
                and now - self._last_throttle >= self._policy.increase_after_s
                and now - self._last_raise >= 0.25
            ):
                self._rate *= 1 + self._policy.increase_per_s * (now - self._last_raise)
                self._last_raise = now

    def throttled(self) -> None:
        """A 429 arrived. Cut the rate to just under what the server admitted, but only when
        the 429 looks like a rate limit: the first 429 after a quiet spell (the server's limit
        was just crossed), or a high share of 429s recently (we are far above it). Scattered
        429s that come whatever the pace (a "storm") are left to Retry-After: cutting on each
        of them would drive the rate to the floor without helping."""
        with self._lock:
            now = self._clock()
            # A quiet spell counts only if enough requests went through in it: at a slow pace
            # a second without 429 says nothing.
            quiet = (
                now - self._last_throttle >= self._policy.increase_after_s
                and sum(1 for t in self._admitted if t >= self._last_throttle) >= 20
            )
            self._last_throttle = now
            self._throttled.append(now)
            if not self._policy.adaptive or now - self._last_cut < self._policy.cut_interval_s:
                return
            started = self._started if self._started is not None else now
            window = min(self._policy.measure_window_s, now - started)
            if window <= 0.01:
                window = self._policy.measure_window_s
            admitted_n = sum(1 for t in self._admitted if t >= now - window)
            # The share of 429s over the whole kept history (4 windows): enough samples that a
            # storm's random share rarely looks like a limit crossed far.
            samples = len(self._admitted) + len(self._throttled)
            share = len(self._throttled) / max(1, samples)
            heavy = samples >= 40 and share >= self._policy.cut_share
            if not (quiet or heavy or self._rate is None):
                return
            admitted = admitted_n / window
            if admitted <= 0:
                admitted = (self._rate or 2 * self._policy.min_rate) / 2
            base = admitted if self._rate is None else min(self._rate, admitted)
            self._rate = max(self._policy.min_rate, base * self._policy.backoff_factor)
            self._last_cut = now
            self._last_raise = now


# Connection failures where the request provably never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, NotSentError)


class Retrier:
    """Runs one logical request through the limiter and the retry policy."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        stats: StatsRecorder,
        emit: Callable[[ClientEvent], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self.policy = policy
        self.limiter = AdaptiveLimiter(policy, clock=clock, sleep=sleep)
        self._stats = stats
        self._emit = emit
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def _backoff(self, attempt: int) -> float:
        with self._rng_lock:
            return self.policy.backoff(attempt, self._rng)

    def _pause(self, operation: str, seconds: float, *, throttle: bool) -> None:
        self._stats.retry()
        if throttle:
            self._stats.waited(seconds)
        self._emit(ClientEvent(EventKind.RETRY, operation, wait_s=seconds))
        self._sleep(seconds)

    def send(
        self, operation: str, attempt: Callable[[], httpx.Response], *, write: bool
    ) -> httpx.Response:
        """The final response (2xx, 3xx or a 4xx other than 429), or an ApiError subclass."""
        throttled = 0
        failures = 0
        while True:
            waited = self.limiter.acquire()
            if waited > 0:
                self._stats.waited(waited)
                self._emit(ClientEvent(EventKind.WAIT, operation, wait_s=waited))
            try:
                response = attempt()
            except _NOT_SENT as exc:
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise _transport_error(operation, exc, failures) from None
                self._pause(operation, self._backoff(failures), throttle=False)
                continue
            except httpx.TransportError as exc:
                if write:
                    raise OutcomeUnknownError(
                        redact(
                            f"{operation}: the connection failed after the request was sent "
                            f"({type(exc).__name__}); the change may or may not have been "
                            "made. Re-read live state (run `reconciler plan`) before retrying."
                        ),
                        operation=operation,
                    ) from None
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise _transport_error(operation, exc, failures) from None
                self._pause(operation, self._backoff(failures), throttle=False)
                continue
            if response.status_code == 429:
                throttled += 1
                self._stats.throttled()
                self._emit(ClientEvent(EventKind.THROTTLED, operation, status=429))
                self.limiter.throttled()
                if throttled >= self.policy.max_throttled_attempts:
                    raise api_error(
                        response,
                        operation=operation,
                        cls=ThrottledError,
                        hint=f"still throttled after {throttled} attempts; try again later",
                    )
                delay = parse_retry_after(response.headers.get("Retry-After"))
                if delay is None:
                    delay = self._backoff(throttled)
                else:
                    # A little jitter so that threads told the same thing do not all return
                    # in the same instant.
                    with self._rng_lock:
                        delay = min(delay, self.policy.max_retry_after_s) * (
                            1 + 0.1 * self._rng.random()
                        )
                self._pause(operation, delay, throttle=True)
                continue
            self.limiter.admitted()
            if response.status_code >= 500:
                if write:
                    raise api_error(
                        response,
                        operation=operation,
                        cls=OutcomeUnknownError,
                        hint="the server failed after receiving the request, so the change "
                        "may or may not have been made. Re-read live state (run `reconciler "
                        "plan`) before retrying",
                    )
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise api_error(
                        response, operation=operation, hint=f"gave up after {failures} attempts"
                    )
                self._pause(operation, self._backoff(failures), throttle=False)
                continue
            return response


def _transport_error(operation: str, exc: Exception, attempts: int) -> ApiError:
    where = ""
    request = getattr(exc, "_request", None)
    if isinstance(request, httpx.Request):
        where = f" ({describe(request)})"
    return TransportError(
        redact(
            f"{operation}{where}: could not reach the Amazon Ads API after {attempts} attempts: "
            f"{type(exc).__name__}: {exc}. Check the network and the AMAZON_ADS_*_URL settings."
        ),
        operation=operation,
    )
