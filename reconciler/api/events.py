"""What the client tells its observers (progress display, benchmarks): events and counters."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class EventKind(StrEnum):
    REQUEST = "request"  # one HTTP request sent to an API host (retries included)
    THROTTLED = "throttled"  # a 429 arrived
    RETRY = "retry"  # a request is about to be re-sent after `wait_s`
    WAIT = "wait"  # the rate limiter held a request back for `wait_s`


@dataclass(frozen=True, slots=True)
class ClientEvent:
    kind: EventKind
    operation: str
    status: int | None = None
    wait_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A snapshot of what the client did so far."""

    requests_by_operation: Mapping[str, int] = field(default_factory=dict)
    throttled: int = 0  # 429 responses received
    retries: int = 0
    throttle_wait_s: float = 0.0  # time spent waiting on the limiter and on Retry-After
    token_requests: int = 0

    @property
    def requests(self) -> int:
        return sum(self.requests_by_operation.values())


class StatsRecorder:
    """Thread-safe counters behind `ClientStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_op: dict[str, int] = {}
        self._throttled = 0
        self._retries = 0
        self._wait = 0.0
        self._tokens = 0

    def request(self, operation: str) -> None:
        with self._lock:
            self._by_op[operation] = self._by_op.get(operation, 0) + 1

    def token_request(self) -> None:
        with self._lock:
            self._tokens += 1

    def throttled(self) -> None:
        with self._lock:
            self._throttled += 1

    def retry(self) -> None:
        with self._lock:
            self._retries += 1

    def waited(self, seconds: float) -> None:
        with self._lock:
            self._wait += seconds

    def snapshot(self) -> ClientStats:
        with self._lock:
            return ClientStats(
                requests_by_operation=MappingProxyType(dict(self._by_op)),
                throttled=self._throttled,
                retries=self._retries,
                throttle_wait_s=self._wait,
                token_requests=self._tokens,
            )
