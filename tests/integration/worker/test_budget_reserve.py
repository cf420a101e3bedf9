"""Scheduled syncs keep their share of the app budget: refreshes stop at the reserve
(docs/worker.md, "Rate budgets")."""

from __future__ import annotations

import pytest
import redis

from adapters.base import AccountRef
from adapters.errors import RateLimited
from worker.budget import PlatformBudget, Rate, RedisRateBudget


def _accounts(n: int) -> list[AccountRef]:
    return [AccountRef(account_id=f"acc_{i}", platform="x", platform_account_id=str(i)) for i in range(n)]


def _budget(client: redis.Redis) -> RedisRateBudget:
    # A long period, so no token refills during the test.
    rates = PlatformBudget(app=Rate.parse("10/3600", "app"), user=Rate.parse("100/3600", "user"))
    return RedisRateBudget(client, {"x": rates})


def test_refreshes_spend_only_the_share_above_the_reserve(redis_client: redis.Redis) -> None:
    rb = _budget(redis_client)
    refresh = rb.for_refresh(0.5)
    accounts = _accounts(10)
    for account in accounts[:5]:
        refresh.acquire(account)
    with pytest.raises(RateLimited) as refused:  # half of 10: the other half is reserved
        refresh.acquire(accounts[5])
    assert refused.value.limit == "X app rate limit"
    assert not rb.refreshable("x", 0.5)
    # Scheduled syncs still find the reserved half, and only that.
    for account in accounts[:5]:
        rb.acquire(account)
    with pytest.raises(RateLimited):
        rb.acquire(accounts[5])


def test_scheduled_syncs_spending_the_budget_leave_refreshes_nothing(redis_client: redis.Redis) -> None:
    rb = _budget(redis_client)
    accounts = _accounts(10)
    for account in accounts[:6]:
        rb.acquire(account)
    assert not rb.refreshable("x", 0.5)
    with pytest.raises(RateLimited):
        rb.for_refresh(0.5).acquire(accounts[6])
    # No reserve configured: a refresh may use everything left.
    assert rb.refreshable("x", 0.0)
    rb.for_refresh(0.0).acquire(accounts[6])
