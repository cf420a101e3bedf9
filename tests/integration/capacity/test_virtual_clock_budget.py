"""The production token-bucket scripts on a virtual clock: what the simulation relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from adapters.base import AccountRef
from ops.foundation import platforms as platform_registry
from worker.budget import PlatformBudget, Rate, RedisRateBudget

PLATFORM = platform_registry.PLATFORMS[0].name


def test_the_buckets_refill_on_the_virtual_clock_and_batches_grant_as_single_calls(
    redis_client: redis.Redis,
) -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    budgets = {PLATFORM: PlatformBudget(app=Rate(10, 100), user=Rate(1000, 1))}
    budget = RedisRateBudget(redis_client, budgets, clock=lambda: now[0])
    accounts = [AccountRef(f"a{i}", PLATFORM, str(i)) for i in range(12)]  # type: ignore[arg-type]
    refusals = budget.acquire_many([(a, 1) for a in accounts])
    assert [r is None for r in refusals] == [True] * 10 + [False] * 2
    refused = refusals[-1]
    assert refused is not None and refused.retry_at == now[0] + timedelta(seconds=10)
    now[0] += timedelta(seconds=30)  # three tokens back, in virtual time only
    assert budget.dispatchable(PLATFORM) == 3 // platform_registry.PLATFORMS[0].estimated_calls_per_sync
    assert [r is None for r in budget.acquire_many([(a, 1) for a in accounts[:4]])] == [True] * 3 + [False]
