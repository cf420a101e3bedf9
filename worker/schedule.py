"""When an account is synced next: pure functions of the outcome, the clock and a random source.

- After a read: `freshness * (1 - margin)` later, minus up to `freshness * jitter`, so the next
  read lands before `stale_after` and accounts connected at the same moment drift apart.
- After a failure: `backoff_base * 2**(failures - 1)`, capped at `max_backoff`, shortened by up
  to 20 % at random so accounts that failed together don't retry together.
- After a rate limit: the platform's reset time plus a little jitter, never before it.
- Held for a platform outage (worker.outage): back to when the account first became due, so it
  keeps its place among the waiting accounts (the dispatcher claims none while the hold lasts).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

# Accounts sharing an app budget must not all retry on the reset second.
RATE_LIMIT_SPREAD_MAX = timedelta(seconds=60)
RATE_LIMIT_SPREAD_FRACTION = 0.1
BACKOFF_JITTER_FRACTION = 0.2


@dataclass(frozen=True)
class SchedulePolicy:
    freshness: timedelta
    margin_fraction: float = 0.15
    jitter_fraction: float = 0.05
    backoff_base: timedelta = timedelta(seconds=60)
    max_backoff: timedelta = timedelta(hours=6)


def after_read(policy: SchedulePolicy, now: datetime, rng: random.Random) -> datetime:
    lead = policy.freshness * (1 - policy.margin_fraction)
    jitter = policy.freshness * policy.jitter_fraction * rng.random()
    return now + max(lead - jitter, timedelta(seconds=1))


def backoff(policy: SchedulePolicy, failures: int) -> timedelta:
    """The full delay after `failures` consecutive failures (failures >= 1), before jitter."""
    exponent = min(max(failures, 1) - 1, 32)  # 2**32 * anything is past any cap
    delay: timedelta = policy.backoff_base * (2**exponent)
    return min(delay, policy.max_backoff)


def after_failure(policy: SchedulePolicy, now: datetime, failures: int, rng: random.Random) -> datetime:
    delay = backoff(policy, failures)
    return now + delay * (1 - BACKOFF_JITTER_FRACTION * rng.random())


def after_rate_limit(retry_at: datetime, now: datetime, rng: random.Random) -> datetime:
    wait = max(retry_at - now, timedelta(0))
    spread = min(RATE_LIMIT_SPREAD_MAX, wait * RATE_LIMIT_SPREAD_FRACTION)
    return max(retry_at, now) + spread * rng.random()


def place_in_queue(policy: SchedulePolicy, last_read: datetime | None, now: datetime) -> datetime:
    """When an account last read at `last_read` is (or was) due, without jitter; `now` for an
    account never read.

    The dispatcher claims most overdue first, so an account put back here after an outage hold
    is read in the order of how stale it is, not of when it happened to be tried."""
    if last_read is None:
        return now
    return last_read + policy.freshness * (1 - policy.margin_fraction)
