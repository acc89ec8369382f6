"""Load and faults, all off by default: latency, a token-bucket rate limit, random 429/5xx,
dropped connections, and write faults that fire after the write took effect.

`Faults` is the immutable policy; `FaultRun` is its running state (random generator and
token buckets) owned by one `Sandbox`. Every request draws the same number of random values
whatever happens to it, so one seed and one request sequence give one fault sequence.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import StrEnum


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

    def __post_init__(self) -> None:
        for name in ("p_429", "p_5xx", "p_5xx_after_write", "p_drop", "p_drop_after_write"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value}: a probability is between 0 and 1")
        if self.rate_limit_rps is not None and self.rate_limit_rps <= 0:
            raise ValueError("rate_limit_rps must be positive (leave it unset for no limit)")
        if self.latency_s < 0:
            raise ValueError("latency_s must not be negative")


class Fault(StrEnum):
    """What happens to one request instead of (or after) its normal answer."""

    RATE_LIMITED = "rate_limited"  # the token bucket is empty: 429 + Retry-After
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

    def draw(self, client_id: str, now: float) -> Draw:
        """Decide this request's faults. The caller holds the world lock."""
        f = self.faults
        r_429, r_5xx, r_drop, r_5xx_w, r_drop_w = (self.rng.random() for _ in range(5))
        wait = self._take_token(client_id, now)
        if wait is not None:
            return Draw(before=Fault.RATE_LIMITED, retry_after_s=wait)
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

    def _take_token(self, client_id: str, now: float) -> int | None:
        """None when a token was taken, else the whole seconds until one is available.

        One bucket per client id across all regional hosts (the brief; Amazon documents
        only "dynamic" limits, reference §1.5). Retry-After is always an integer number of
        seconds (RFC 9110 delay-seconds), rounded up and at least 1: never fractional.
        """
        rps = self.faults.rate_limit_rps
        if rps is None:
            return None
        size = float(self.faults.rate_limit_burst or max(1.0, rps))
        bucket = self.buckets.setdefault(client_id, _Bucket(size, now))
        bucket.tokens = min(size, bucket.tokens + max(0.0, now - bucket.updated) * rps)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / rps))
