"""`RetryPolicy`: how the client retries and paces its requests, one immutable value shared by
the retrier (`retry.py`) and the rate limiter (`limiter.py`)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6  # per request, for 5xx and connection failures
    max_throttled_attempts: int = 15  # per request, for 429
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0  # a larger Retry-After is clamped to this
    # Adaptive rate limiting (limiter.py; shared by all threads of one client).
    adaptive: bool = True
    initial_rate: float | None = None  # requests/second; None: unlimited until the first 429
    min_rate: float = 5.0
    backoff_factor: float = 0.95  # new rate = factor x the rate the server admitted
    measure_window_s: float = 0.5
    cut_interval_s: float = 0.25  # the least time at a new pace before it is judged
    cut_share: float = 0.02  # cut again when more than this share of the new pace is 429
    max_episode_cuts: int = 4  # cuts between quiet spells, at most
    judge_samples: int = 40  # responses needed to judge a pace (or call a spell quiet)
    increase_after_s: float = 1.0  # quiet time before the rate rises again
    increase_per_s: float = 0.02  # +2% per second while quiet
    # (operationId, family) pairs: operations limited together. Unlisted: its own family.
    families: tuple[tuple[str, str], ...] = ()

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** max(0, attempt - 1))
        return ceiling * (0.5 + 0.5 * rng.random())
