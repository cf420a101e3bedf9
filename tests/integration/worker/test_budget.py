"""The Redis rate budget's Lua scripts on a real Redis."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.base import AccountRef, BudgetObservation
from adapters.errors import RateLimited
from worker.budget import PlatformBudget, Rate, RedisRateBudget, pause_key

ALICE = AccountRef(account_id="acc_alice", platform="x", platform_account_id="1")
BOB = AccountRef(account_id="acc_bob", platform="x", platform_account_id="2")


def budget(client: redis.Redis, app: str = "100/60", user: str = "3/60") -> RedisRateBudget:
    rates = PlatformBudget(app=Rate.parse(app, "app"), user=Rate.parse(user, "user"))
    return RedisRateBudget(client, {"x": rates, "tiktok": rates}, pause_percent=90, pause_seconds=30)


def test_a_spent_user_budget_refuses_without_touching_others(redis_client: redis.Redis) -> None:
    rb = budget(redis_client)
    for _ in range(3):
        rb.acquire(ALICE)
    with pytest.raises(RateLimited) as refused:
        rb.acquire(ALICE)
    assert refused.value.limit == "X user rate limit"
    # One token refills in 60/3 = 20 s.
    wait = refused.value.retry_at - datetime.now(UTC)
    assert timedelta(seconds=15) < wait <= timedelta(seconds=21)
    rb.acquire(BOB)  # Bob's token has its own bucket


def test_the_app_budget_is_shared_by_every_account(redis_client: redis.Redis) -> None:
    rb = budget(redis_client, app="4/60", user="100/60")
    accounts = [AccountRef(account_id=f"acc_{i}", platform="x", platform_account_id=str(i)) for i in range(5)]
    for account in accounts[:4]:
        rb.acquire(account)
    assert rb.dispatchable("x") == 0
    with pytest.raises(RateLimited) as refused:
        rb.acquire(accounts[4])
    assert refused.value.limit == "X app rate limit"


def test_a_refused_call_spends_nothing(redis_client: redis.Redis) -> None:
    rb = budget(redis_client, app="2/60", user="1/60")
    rb.acquire(ALICE)
    with pytest.raises(RateLimited):
        rb.acquire(ALICE)  # the user bucket refuses: the app token must not be spent
    rb.acquire(BOB)
    with pytest.raises(RateLimited):
        rb.acquire(AccountRef(account_id="acc_carol", platform="x", platform_account_id="3"))


def test_tokens_refill_over_time(redis_client: redis.Redis) -> None:
    rb = budget(redis_client, user="2/1")
    rb.acquire(ALICE, calls=2)
    with pytest.raises(RateLimited):
        rb.acquire(ALICE)
    time.sleep(0.6)
    rb.acquire(ALICE)


def test_a_reported_reset_pauses_until_then(redis_client: redis.Redis) -> None:
    rb = budget(redis_client)
    reset = datetime.now(UTC) + timedelta(seconds=40)
    rb.observe(ALICE, BudgetObservation(scope="user", remaining=0, reset_at=reset))
    with pytest.raises(RateLimited) as refused:
        rb.acquire(ALICE)
    assert abs((refused.value.retry_at - reset).total_seconds()) < 1.5
    rb.acquire(BOB)
    # A shorter hint never cuts a longer pause.
    rb.observe(ALICE, BudgetObservation(scope="user", blocked_until=datetime.now(UTC) + timedelta(seconds=2)))
    assert redis_client.pttl(pause_key("x", "user", "acc_alice")) > 30_000


def test_remaining_caps_the_bucket(redis_client: redis.Redis) -> None:
    rb = budget(redis_client, user="50/3600")
    rb.observe(
        ALICE,
        BudgetObservation(scope="user", remaining=1, reset_at=datetime.now(UTC) + timedelta(minutes=15)),
    )
    rb.acquire(ALICE)
    with pytest.raises(RateLimited):
        rb.acquire(ALICE)


def test_high_app_usage_pauses_the_app(redis_client: redis.Redis) -> None:
    rb = budget(redis_client)
    rb.observe(ALICE, BudgetObservation(scope="app", usage_percent=50))
    rb.acquire(BOB)
    rb.observe(ALICE, BudgetObservation(scope="app", usage_percent=95))
    assert rb.dispatchable("x") == 0
    with pytest.raises(RateLimited) as refused:
        rb.acquire(BOB)
    assert refused.value.limit == "X app rate limit"
    assert 25_000 < redis_client.pttl(pause_key("x", "app")) <= 30_000


def test_redis_down_defers_instead_of_calling(redis_client: redis.Redis) -> None:
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    with pytest.raises(RateLimited) as refused:
        budget(dead).acquire(ALICE)
    assert "Redis" in refused.value.limit
    budget(dead).observe(ALICE, BudgetObservation(scope="app", usage_percent=99))  # advice: no error


def test_a_malformed_budget_setting_is_a_configuration_error() -> None:
    from ops.foundation.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match="DRAVO_X_USER_BUDGET"):
        Rate.parse("75 per 15min", "DRAVO_X_USER_BUDGET")
