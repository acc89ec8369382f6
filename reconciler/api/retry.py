"""Retries and adaptive rate limiting: a wrapper around "send one request", with an immutable
policy. Reference §1.5: a throttled request gets 429 with `Retry-After` (seconds); retry 429
and 5xx with exponential backoff, a maximum delay and a maximum retry count; never retry
other 4xx.

What is retried:
- reads: 429, 5xx, and every connection failure;
- writes: only 429 (the server did not process it) and failures that provably happened before
  the request left (connect errors, a token that could not be fetched). A 5xx or a connection
  lost after sending is ambiguous: `OutcomeUnknownError`, never re-sent.

What is a throttle: a 429, whatever its body (JSON, or a gateway's HTML page) and whether or
not it carries `Retry-After`; and any other error status carrying
`amazon-advertising-api-throttled: true`, which says the request was refused, not processed
(so a write is re-sent too). The throttled request waits `Retry-After` when given (seconds or
an HTTP date), else the exponential backoff.

The rate limiter (`limiter.py`, shared by every thread of a client) keeps one pace per
operation family under one for the whole client, each learnt from what the server admits, so
few calls are wasted on 429s even when the server never says how long to wait.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable

import httpx

from reconciler.api.events import ClientEvent, EventKind, StatsRecorder
from reconciler.api.limiter import AdaptiveLimiter, RateLimiter
from reconciler.api.policy import RetryPolicy
from reconciler.api.translate import api_error, describe
from reconciler.errors import (
    ApiError,
    AuthError,
    OutcomeUnknownError,
    ThrottledError,
    TransportError,
)
from reconciler.redact import redact

__all__ = [
    "THROTTLED_HEADER",
    "AdaptiveLimiter",
    "NotSentError",
    "Retrier",
    "RetryPolicy",
    "is_throttle",
    "parse_retry_after",
]

THROTTLED_HEADER = "amazon-advertising-api-throttled"


class NotSentError(Exception):
    """An attempt failed before the request left this process: always safe to retry."""


class TokenEndpointDown(NotSentError):
    """No access token could be had (Login with Amazon unreachable, 5xx or 429): retried like
    any unsent request; when retries run out, an `AuthError` naming the token endpoint."""


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


def is_throttle(response: httpx.Response) -> bool:
    """A 429, or another error status the API marks as throttled (module docstring)."""
    if response.status_code == 429:
        return True
    flagged = response.headers.get(THROTTLED_HEADER, "").strip().lower() == "true"
    return flagged and response.status_code >= 400


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
        self.limiter = RateLimiter(policy, clock=clock, sleep=sleep)
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
            ticket = self.limiter.acquire(operation)
            if ticket.waited > 0:
                self._stats.waited(ticket.waited)
                self._emit(ClientEvent(EventKind.WAIT, operation, wait_s=ticket.waited))
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
            if is_throttle(response):
                throttled += 1
                self._stats.throttled()
                self._emit(ClientEvent(EventKind.THROTTLED, operation, status=response.status_code))
                self.limiter.throttled(operation, ticket)
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
            self.limiter.admitted(operation, ticket)
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
    if isinstance(exc, TokenEndpointDown):
        # Nothing can be read or written without a token: this is no failed read of one
        # account but a configuration or network problem, and is named as such.
        return AuthError(
            redact(
                f"{operation}: could not get an access token from Login with Amazon after "
                f"{attempts} attempts ({exc}). Check the network and AMAZON_ADS_TOKEN_URL."
            ),
            operation=operation,
        )
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
