"""When a failed webhook attempt is tried again: exponential backoff with jitter, for a window."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    max_seconds: float
    window: timedelta

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds after attempt `attempt` (1-based) failed: base * 2^(attempt-1), capped, then a
        random half of it taken off ("equal jitter"), so receivers recovering from an outage are
        not hit by every sender's retries at once."""
        ceiling = min(self.max_seconds, self.base_seconds * float(2 ** min(attempt - 1, 32)))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def next_attempt(
        self, attempt: int, created_at: datetime, now: datetime, rng: random.Random
    ) -> datetime | None:
        """None once the next try would fall past the window: the delivery is then failed."""
        when = now + timedelta(seconds=self.delay(attempt, rng))
        return None if when > created_at + self.window else when
