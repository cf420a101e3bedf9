"""The simulation runs the production policy: its results move as the policy's formulas say, and the
closed-form capacity model agrees with it (small scenarios, a real Redis for the token buckets)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import redis

from ops.capacity.model import platform_capacity
from ops.capacity.scenario import DEFAULT_LATENCY, PlatformLoad, Scenario
from ops.capacity.simulation import SimulationResult, percentile_50, simulate
from ops.foundation import platforms as platform_registry
from worker.budget import PlatformBudget, Rate

# A platform whose registry estimate is one call per sync: `dispatchable` divides by it.
ONE_CALL = next(s.name for s in platform_registry.PLATFORMS if s.estimated_calls_per_sync == 1)
PLENTY = Rate(1_000_000, 1)


def _scenario(accounts: int, freshness: timedelta, app: Rate, hours: float, margin: float = 0.15) -> Scenario:
    load = PlatformLoad(accounts, freshness, PlatformBudget(app, PLENTY), calls_per_sync=1)
    return Scenario(
        platforms={ONE_CALL: load},
        duration=timedelta(hours=hours),
        latency=DEFAULT_LATENCY,
        margin_fraction=margin,
    )


def _steady_stale(result: SimulationResult, after: float) -> float:
    return percentile_50(result.stale_shares(after, result.seconds))


@pytest.mark.parametrize("margin", [0.15, 0.5])
def test_the_read_interval_follows_the_schedule_policy(redis_client: redis.Redis, margin: float) -> None:
    scenario = _scenario(100, timedelta(minutes=10), PLENTY, hours=2, margin=margin)
    result = simulate(scenario, redis_client)
    model = platform_capacity(scenario, ONE_CALL)
    # interval = F (1 - margin - jitter/2) + tick/2: 497.5 s at 0.15, 287.5 s at 0.5. Each account
    # is read at 0, I, 2I, ... before the end: on average T / I + 1/2 reads.
    expected = model.demand_syncs_per_second * result.seconds + scenario.platforms[ONE_CALL].accounts / 2
    assert result.counts[ONE_CALL].syncs == pytest.approx(expected, rel=0.03)
    assert result.counts[ONE_CALL].calls == result.counts[ONE_CALL].syncs
    assert _steady_stale(result, 900) == 0.0  # reads land before stale_after


def test_a_binding_app_budget_gives_the_stale_share_computed_by_hand(redis_client: redis.Redis) -> None:
    # 100 accounts, 60 s freshness, the app budget carries 1 sync a second: R F = 60 accounts are
    # fresh at any time, so 40 % are stale, and the platform gets 86,400 calls a day.
    scenario = _scenario(100, timedelta(seconds=60), Rate(10, 10), hours=0.5)
    result = simulate(scenario, redis_client)
    model = platform_capacity(scenario, ONE_CALL)
    assert model.binding == "app quota"
    assert model.stale_share == pytest.approx(0.4)
    assert _steady_stale(result, 300) == pytest.approx(0.4, abs=0.05)
    assert result.calls_per_day(ONE_CALL) == pytest.approx(86_400, rel=0.03)


def test_an_outage_fails_syncs_into_backoff_and_the_backlog_drains(redis_client: redis.Redis) -> None:
    from ops.capacity.scenario import Outage

    base = _scenario(200, timedelta(minutes=5), PLENTY, hours=1)
    outage = Outage(ONE_CALL, timedelta(minutes=20), timedelta(minutes=5))
    scenario = Scenario(
        platforms=base.platforms, duration=base.duration, latency=base.latency, outages=(outage,)
    )
    result = simulate(scenario, redis_client)
    counts = result.counts[ONE_CALL]
    assert counts.failed > 0
    assert result.stale_shares(1500, 1510)[0] > 0.5  # stale by the outage's end
    assert result.drain_seconds(ONE_CALL, 1500, 0.0) is not None


def test_a_steady_start_spreads_the_reads_like_the_soaks_start(redis_client: redis.Redis) -> None:
    # Accounts read at random times before the start (as the soak seeds them) are never stale
    # and come due spread out: every minute carries calls, none arrive as one wave.
    base = _scenario(600, timedelta(minutes=10), PLENTY, hours=0.5)
    steady = dataclasses.replace(base, steady_start=True)
    result = simulate(steady, redis_client)
    assert max(result.stale_shares(0, result.seconds)) == 0.0
    per_minute = result.calls_per_minute(ONE_CALL, 0, result.seconds)
    # 600 accounts every ~8.2 min: about 73 calls a minute, none of the minutes empty.
    assert min(per_minute) > 0
    assert percentile_50(per_minute) == pytest.approx(600 / 8.25, rel=0.25)
