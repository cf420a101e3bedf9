"""Benchmark 2: the dispatcher at scale.

Accounts are all due, spread over the last six hours, so every tick has to find the most overdue
ones. For each table size, a tick claims 1,000 accounts (200 per platform, each platform in its
own transaction, as `worker.dispatch` does) and we time it; claimed rows move to the future, so
the next tick claims the next most overdue ones. At the largest size we also time the real tick
(`worker.dispatch.dispatch_due`: budget checks, claims and publishing 1,000 messages to Redis).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from adapters.base import PLATFORMS
from bench.database import bench_database, seed_accounts
from bench.report import median, save
from models import sync_state
from models.db import make_engine, make_session_factory
from ops.foundation.settings import get_settings

SIZES = (10_000, 100_000, 1_000_000)
BATCH = 1_000
TICKS = 7
REDIS_URL = os.environ.get("DRAVO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def _tick(factory: Any, per_platform: int) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    claimed = 0
    for platform in PLATFORMS:
        with factory.begin() as session:
            claimed += len(sync_state.claim_due(session, platform, per_platform, now, timedelta(minutes=5)))
    elapsed = (time.perf_counter() - started) * 1000
    assert claimed == per_platform * len(PLATFORMS), claimed
    return elapsed


def _real_ticks(url: str) -> list[float]:
    # The worker's publisher reads the process settings, so the tick runs as a worker would.
    os.environ.update(
        {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "DRAVO_ENV": os.environ.get("DRAVO_ENV", "development"),
            "DRAVO_DISPATCH_BATCH_SIZE": str(BATCH // len(PLATFORMS)),
        }
    )
    get_settings.cache_clear()
    from worker.composition import process_deps
    from worker.dispatch import dispatch_due
    from worker.tasks import _publish

    deps = process_deps()
    broker = redis.Redis.from_url(REDIS_URL)
    timings = []
    try:
        for _ in range(TICKS):
            broker.flushdb()
            started = time.perf_counter()
            report = dispatch_due(deps, _publish)
            timings.append((time.perf_counter() - started) * 1000)
            assert report.total > 0
    finally:
        broker.flushdb()
        broker.close()
        deps.close()
    return timings


def run() -> dict[str, Any]:
    results: dict[str, Any] = {"sizes": {}}
    with bench_database() as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        seeded = 0
        for size in SIZES:
            seed_accounts(
                url,
                workspace_id="ws_bench_sched",
                start=seeded + 1,
                count=size - seeded,
                credentials=b"x",
                due_spread_seconds=6 * 3600,
            )
            seeded = size
            _tick(factory, BATCH // len(PLATFORMS))  # warm the cache and the plans
            ticks = [_tick(factory, BATCH // len(PLATFORMS)) for _ in range(TICKS)]
            results["sizes"][str(size)] = {"tick_ms": ticks, "median_ms": median(ticks)}
        engine.dispose()
        real = _real_ticks(url)
        results["real_tick_ms"] = real

    rows = "\n".join(
        f"| {int(size):,} | {data['median_ms']:.1f} ms | {min(data['tick_ms']):.1f} / {max(data['tick_ms']):.1f} ms |"
        for size, data in results["sizes"].items()
    )
    small = results["sizes"][str(SIZES[0])]["median_ms"]
    large = results["sizes"][str(SIZES[-1])]["median_ms"]
    markdown = f"""## 2. Scheduler: claiming {BATCH:,} due accounts per dispatcher tick

Every account due (spread over the last 6 h); a tick claims {BATCH // len(PLATFORMS)} per platform with
`SELECT ... FOR UPDATE SKIP LOCKED` + lease `UPDATE` (one transaction per platform); median of
{TICKS} ticks after one warm-up.

| connected accounts | claim {BATCH:,} (median) | min / max |
| --- | --- | --- |
{rows}

Growth from {SIZES[0]:,} to {SIZES[-1]:,} accounts: x{large / small:.2f} (target: under 100 ms at 1,000,000).
The whole tick at {SIZES[-1]:,} accounts (`worker.dispatch.dispatch_due`: budget checks, claims,
publishing {BATCH:,} messages to Redis): median {median(real):.1f} ms."""
    save("scheduler", "python -m bench scheduler", markdown, results)
    return {
        "median_by_size": {k: v["median_ms"] for k, v in results["sizes"].items()},
        "real_tick_ms": median(real),
    }
