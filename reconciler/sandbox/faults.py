"""Load and faults, all off by default: latency, a token-bucket rate limit, random 429/5xx,
dropped connections, and write faults that fire after the write took effect.

Rate limits: one token bucket per client id across the three regional hosts, and optionally
a tighter bucket per (client id, operationId). A request needs a token from both and takes
them only when both have one; a refused request takes none. How a 429 is signalled is part of
the policy, since the API is seen to vary: `Retry-After` in delta-seconds (the
reference, §1.5), as an HTTP date, or absent; the `amazon-advertising-api-throttled: true`
header; the operation's JSON error body, or a gateway's HTML page.

`Faults` is the immutable policy; `FaultRun` is its running state (random generator and
token buckets) owned by one `Sandbox`. Every request draws the same number of random values
whatever happens to it, so one seed and one request sequence give one fault sequence.
"""

from __future__ import annotations

import email.utils
import math
import random
from dataclasses import dataclass, field
from enum import StrEnum

THROTTLED_HEADER = "amazon-advertising-api-throttled"
GATEWAY_429 = (
    b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    b"<center><h1>429 Too Many Requests</h1></center>\r\n</body>\r\n</html>\r\n"
)


class RetryAfter(StrEnum):
    """How a 429 says when to come back."""

    SECONDS = "seconds"  # `Retry-After: 2` (reference §1.5)
    DATE = "date"  # `Retry-After: Sun, 29 Nov 2026 05:00:02 GMT` (RFC 9110 HTTP-date)
    NONE = "none"  # no Retry-After at all


@dataclass(frozen=True, slots=True)
class Faults:
    latency_s: float = 0.0
    rate_limit_rps: float | None = None  # token bucket refill, requests per second
    rate_limit_burst: int | None = None  # bucket size; default max(1, rps)
    p_429: float = 0.0
    p_5xx: float = 0.0
    p_5xx_after_write: float = 0.0
    p_drop: float = 0.0
    p_drop_after_write: float = 0.0
    seed: int = 0
    # (operationId, requests/second): a bucket per client and operation, size max(1, rps).
    op_rate_limits: tuple[tuple[str, float], ...] = ()
    retry_after: RetryAfter = RetryAfter.SECONDS
    throttled_header: bool = False  # 429s carry `amazon-advertising-api-throttled: true`
    html_429: bool = False  # 429s carry a gateway's HTML page instead of the JSON error

    def __post_init__(self) -> None:
        for name in ("p_429", "p_5xx", "p_5xx_after_write", "p_drop", "p_drop_after_write"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value}: a probability is between 0 and 1")
        if self.rate_limit_rps is not None and self.rate_limit_rps <= 0:
            raise ValueError("rate_limit_rps must be positive (leave it unset for no limit)")
        if self.latency_s < 0:
            raise ValueError("latency_s must not be negative")
        for operation, rps in self.op_rate_limits:
            if not rps > 0:
                raise ValueError(f"{operation}={rps}: an operation's rate limit must be positive")

    def throttle_answer(
        self, draw: Draw, now: float, json_body: bytes, json_type: str | None
    ) -> tuple[bytes, str | None, tuple[tuple[str, str], ...]]:
        """The body, content type and headers of a 429 for `draw`, signalled as configured."""
        headers: list[tuple[str, str]] = []
        if self.retry_after is RetryAfter.SECONDS:
            headers.append(("Retry-After", str(draw.retry_after_s)))
        elif self.retry_after is RetryAfter.DATE:
            # An HTTP date has whole seconds: round up so it never says "sooner".
            when = math.ceil(now + draw.retry_after_s)
            headers.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
        if self.throttled_header:
            headers.append((THROTTLED_HEADER, "true"))
        if self.html_429:
            return GATEWAY_429, "text/html", tuple(headers)
        return json_body, json_type, tuple(headers)


class Fault(StrEnum):
    """What happens to one request instead of (or after) its normal answer."""

    RATE_LIMITED = "rate_limited"  # the client's token bucket is empty: 429
    OP_RATE_LIMITED = "op_rate_limited"  # the operation's bucket is empty: 429
    THROTTLED = "429"  # p_429: a random 429 + Retry-After
    ERROR = "5xx"  # p_5xx: 500 before any effect
    DROP = "drop"  # p_drop: connection closed before any effect
    ERROR_AFTER_WRITE = "5xx_after_write"
    DROP_AFTER_WRITE = "drop_after_write"


@dataclass(frozen=True, slots=True)
class Draw:
    """The faults chosen for one request, decided before it is handled."""

    before: Fault | None = None
    after_write: Fault | None = None
    retry_after_s: int = 1


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(slots=True)
class FaultRun:
    faults: Faults
    rng: random.Random = field(init=False)
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.faults.seed)

    def draw(self, client_id: str, now: float, operation: str = "") -> Draw:
        """Decide this request's faults. The caller holds the world lock."""
        f = self.faults
        r_429, r_5xx, r_drop, r_5xx_w, r_drop_w = (self.rng.random() for _ in range(5))
        refused = self._take_tokens(client_id, operation, now)
        if refused is not None:
            return refused
        if r_429 < f.p_429:
            return Draw(before=Fault.THROTTLED, retry_after_s=1)
        if r_5xx < f.p_5xx:
            return Draw(before=Fault.ERROR)
        if r_drop < f.p_drop:
            return Draw(before=Fault.DROP)
        if r_5xx_w < f.p_5xx_after_write:
            return Draw(after_write=Fault.ERROR_AFTER_WRITE)
        if r_drop_w < f.p_drop_after_write:
            return Draw(after_write=Fault.DROP_AFTER_WRITE)
        return Draw()

    def _take_tokens(self, client_id: str, operation: str, now: float) -> Draw | None:
        """None when a token was taken from each bucket the request needs, else the 429.

        One bucket per client id across all regional hosts (the brief; Amazon documents
        only "dynamic" limits, reference §1.5), and one per client id and operation when
        that operation has its own limit. Retry-After is an integer number of seconds (RFC
        9110 delay-seconds), rounded up and at least 1: never fractional.
        """
        limits = dict(self.faults.op_rate_limits)
        checks: list[tuple[Fault, _Bucket, float]] = []
        rps = self.faults.rate_limit_rps
        if rps is not None:
            size = float(self.faults.rate_limit_burst or max(1.0, rps))
            checks.append((Fault.RATE_LIMITED, self._bucket(client_id, size, rps, now), rps))
        op_rps = limits.get(operation)
        if op_rps is not None:
            bucket = self._bucket(f"{client_id} {operation}", max(1.0, op_rps), op_rps, now)
            checks.append((Fault.OP_RATE_LIMITED, bucket, op_rps))
        short = [(fault, b, r) for fault, b, r in checks if b.tokens < 1.0]
        if not short:
            for _, bucket, _ in checks:
                bucket.tokens -= 1.0
            return None
        fault = short[0][0]
        wait = max(math.ceil((1.0 - b.tokens) / r) for _, b, r in short)
        return Draw(before=fault, retry_after_s=max(1, wait))

    def _bucket(self, key: str, size: float, rps: float, now: float) -> _Bucket:
        bucket = self.buckets.setdefault(key, _Bucket(size, now))
        bucket.tokens = min(size, bucket.tokens + max(0.0, now - bucket.updated) * rps)
        bucket.updated = now
        return bucket
