"""The simulation's batched scripts answer exactly as the production calls, one by one, would."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import redis

from adapters.base import AccountRef
from ops.capacity.scripts import Acquire, Record, ScriptBatch
from ops.foundation import platforms as platform_registry
from worker.budget import PlatformBudget, Rate, RedisRateBudget
from worker.outage import Health, OutageDetector, OutagePolicy

PLATFORMS = [s.name for s in platform_registry.PLATFORMS[:2]]
BUDGETS = {p: PlatformBudget(Rate(40, 10), Rate(6, 10)) for p in PLATFORMS}
POLICY = OutagePolicy(
    min_failures=4, failure_ratio=0.5, window=timedelta(seconds=5), hold=timedelta(seconds=3)
)
START = datetime(2030, 1, 1, tzinfo=UTC)


def _steps(seed: int) -> list[tuple[float, list[Record], list[Acquire]]]:
    rng = random.Random(seed)
    steps, t = [], 0.0
    for _ in range(120):
        t += rng.uniform(0.05, 0.6)
        ms = int((START + timedelta(seconds=t)).timestamp() * 1000)
        health: list[Health] = ["up", "down", "down"]
        records = [
            Record(
                rng.choice(PLATFORMS),
                rng.choice(health),
                ms - rng.randint(0, 50),
                workspace=f"ws_{rng.randint(1, 4)}",
                trusted=rng.random() < 0.3,
            )
            for _ in range(rng.randint(0, 3))
        ]
        acquires = [
            Acquire(rng.choice(PLATFORMS), f"a{rng.randint(1, 4)}", rng.randint(1, 3))
            for _ in range(rng.randint(0, 4))
        ]
        steps.append((t, records, acquires))
    return steps


def test_one_batch_a_step_gives_the_replies_of_the_production_calls(redis_client: redis.Redis) -> None:
    steps = _steps(7)
    now = [START]
    budget = RedisRateBudget(redis_client, BUDGETS, probe_syncs=POLICY.probe_syncs, clock=lambda: now[0])
    detector = OutageDetector(redis_client, POLICY, clock=lambda: now[0])
    expected = []
    for t, records, acquires in steps:
        started = []
        for r in records:
            now[0] = START + timedelta(milliseconds=r.at_ms - int(START.timestamp() * 1000))
            started.append(
                detector.record(r.platform, r.health, workspace=r.workspace, trusted=r.trusted) == 1
            )
        now[0] = START + timedelta(seconds=t)
        refusals = budget.acquire_many(
            [
                (AccountRef(account_id=a.account_id, platform=a.platform, platform_account_id=""), a.calls)  # type: ignore[arg-type]
                for a in acquires
            ]
        )
        expected.append((started, [None if r is None else (type(r).__name__, r.retry_at) for r in refusals]))
    assert any(any(s) for s, _ in expected), "the sequence must start a hold"
    kinds = {r[0] for _, refused in expected for r in refused if r is not None}
    assert kinds == {"OutageHold", "RateLimited"}

    redis_client.flushdb()
    batch = ScriptBatch(redis_client, BUDGETS, POLICY)
    got = []
    for t, records, acquires in steps:
        started, replies = batch.run(
            records, acquires, int((START + timedelta(seconds=t)).timestamp() * 1000)
        )
        at = START + timedelta(seconds=t)
        refused = [
            None
            if g
            else ("OutageHold" if which == 3 else "RateLimited", at + timedelta(milliseconds=max(wait, 1)))
            for g, wait, which in replies
        ]
        got.append((started, refused))
    assert got == expected
