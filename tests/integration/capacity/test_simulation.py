"""The simulation runs the production policy: its results move as the policy's formulas say, and the
closed-form capacity model agrees with it (small scenarios, a real Redis for the token buckets)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import redis

from adapters.http import DEFAULT_RETRY
from ops.capacity.model import platform_capacity
from ops.capacity.scenario import DEFAULT_LATENCY, Outage, PlatformLoad, Scenario, Workers
from ops.capacity.simulation import SimulationResult, percentile_50, simulate
from ops.foundation import platforms as platform_registry
from ops.testing.ranks import spearman
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


def test_an_outage_longer_than_the_hold_is_held_and_its_backlog_read_stalest_first(
    redis_client: redis.Redis,
) -> None:
    # Reads spread out (a steady start), and a budget that drains the backlog over several ticks
    # (10 syncs a second), so the order of the re-reads is the dispatcher's, not the latency's.
    base = _scenario(400, timedelta(minutes=5), Rate(10, 1), hours=1)
    start, length = timedelta(minutes=20), timedelta(minutes=6)
    scenario = dataclasses.replace(base, outages=(Outage(ONE_CALL, start, length),), steady_start=True)
    policy = scenario.outage_policy
    assert length > policy.window + policy.hold  # so the outage outlasts the first hold
    result = simulate(scenario, redis_client)
    counts = result.counts[ONE_CALL]
    assert counts.holds >= 2  # the first hold, then a probe that found it still down
    # While held nothing is called: no calls between two samples inside a hold.
    hold = policy.hold.total_seconds()
    for began in result.hold_starts[ONE_CALL]:
        inside = [s.calls[ONE_CALL] for s in result.samples if began < s.at < began + hold]
        assert len(inside) >= 4 and len(set(inside)) == 1, (began, inside)
    # During the outage only the syncs that started the hold and the probes (at most probe_syncs a tick) reached the platform, each with its retries.
    attempts = DEFAULT_RETRY.attempts
    during = [s.calls[ONE_CALL] for s in result.samples if start.total_seconds() <= s.at]
    end_s = (start + length).total_seconds()
    outage_calls = next(s.calls[ONE_CALL] for s in result.samples if s.at >= end_s) - during[0]
    ticks_probing = counts.holds * policy.hold.total_seconds() / scenario.dispatch_interval.total_seconds()
    bound = attempts * (policy.min_failures * counts.holds + ticks_probing * policy.probe_syncs)
    assert 0 < outage_calls <= bound
    unheld = 400 / 250 * length.total_seconds() * attempts  # what 400 accounts every ~4 min would call
    assert outage_calls < unheld / 2
    # After it, the accounts stale at its end are re-read, the most overdue first.
    rereads = [(o, r) for o, r in result.rereads[ONE_CALL] if r is not None]
    assert len(rereads) > 100
    assert spearman([o for o, _ in rereads], [-r for _, r in rereads]) > 0.5
    assert result.drain_seconds(ONE_CALL, end_s, 0.0) is not None


def test_a_bounded_pool_queues_what_its_cpu_cannot_take(redis_client: redis.Redis) -> None:
    # 10,000 accounts due at once; the pool's CPU serves 10 syncs a second. The dispatcher tops
    # the queue up to the batch size, and throughput is the CPU's.
    workers = Workers(processes=1, concurrency=50, cpu_per_sync_seconds=0.1, cores=1)
    base = _scenario(10_000, timedelta(hours=1), PLENTY, hours=10 / 60)
    result = simulate(dataclasses.replace(base, workers=workers), redis_client)
    assert result.syncs_per_second() == pytest.approx(workers.max_syncs_per_second, rel=0.05)
    depths = result.queued(ONE_CALL, 60, result.seconds)
    assert max(depths) <= base.batch_size
    assert percentile_50([float(d) for d in depths]) > base.batch_size * 0.8
    assert result.peak_in_flight <= workers.slots


def test_a_bounded_pool_holds_a_slot_for_each_sync_s_calls(redis_client: redis.Redis) -> None:
    # Four slots and CPU to spare: each sync holds its slot for its call's latency, so throughput
    # is slots / mean latency (Little's law).
    workers = Workers(processes=1, concurrency=4, cpu_per_sync_seconds=1e-4, cores=1)
    base = _scenario(20_000, timedelta(hours=1), PLENTY, hours=10 / 60)
    result = simulate(dataclasses.replace(base, workers=workers), redis_client)
    expected = workers.slots / DEFAULT_LATENCY.mean_seconds
    assert result.syncs_per_second() == pytest.approx(expected, rel=0.1)
    assert result.mean_in_flight() == pytest.approx(workers.slots, rel=0.05)


def test_messages_queued_when_a_hold_starts_are_refused_and_keep_their_place(
    redis_client: redis.Redis,
) -> None:
    # A pool slightly slower than the demand (11 syncs/s for 12), so the queue is never empty
    # when the hold starts: those messages reach the acquire script, which refuses them with
    # OutageHold (no call, no failure), and the dispatcher claims no more until the probe.
    workers = Workers(processes=1, concurrency=50, cpu_per_sync_seconds=0.09, cores=1)
    base = _scenario(3_000, timedelta(minutes=5), PLENTY, hours=40 / 60)
    outage = Outage(ONE_CALL, timedelta(minutes=20), timedelta(minutes=6))
    scenario = dataclasses.replace(base, outages=(outage,), workers=workers, steady_start=True)
    result = simulate(scenario, redis_client)
    counts = result.counts[ONE_CALL]
    first = result.hold_starts[ONE_CALL][0]
    assert next(s.queued[ONE_CALL] for s in result.samples if s.at >= first - 10) > 0
    assert counts.held > 0 and counts.rate_limited == 0
    assert 0 <= counts.syncs - (counts.succeeded + counts.failed + counts.held) <= workers.slots  # in flight
    assert next(s.queued[ONE_CALL] for s in result.samples if s.at >= first + 30) == 0  # taken, held
