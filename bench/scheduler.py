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
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from adapters.base import PLATFORMS
from bench.database import bench_database, seed_accounts
from bench.report import before, median, save
from bench.throughput import machine_busy, machine_busy_share
from models import sync_state
from models.db import make_engine, make_session_factory
from models.sync_state import DispatchClaim
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


def _real_ticks(url: str) -> dict[str, Any]:
    """The real tick, alternating the batch publisher with one `apply_async` per message (the
    publisher before the pipelined one) in the same run: times, time spent publishing, machine busy."""
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
    from worker.celery_worker import app
    from worker.composition import process_deps
    from worker.dispatch import dispatch_due
    from worker.publish import send_each
    from worker.tasks import _publish, sync_account

    def one_by_one(claims: Sequence[DispatchClaim]) -> int:
        with app.producer_or_acquire() as producer:
            send_each(sync_account, deps.settings.lease_seconds)(claims, producer)
        return len(claims)

    deps = process_deps()
    broker = redis.Redis.from_url(REDIS_URL)
    publishers = {"batch": _publish, "one_by_one": one_by_one}
    timings: dict[str, list[float]] = {name: [] for name in publishers}
    publishing: dict[str, list[float]] = {name: [] for name in publishers}
    spent = [0.0]
    current = ["batch"]
    mismatches: list[dict[str, Any]] = []

    def timed_publish(claims: Sequence[DispatchClaim]) -> int:
        started = time.perf_counter()
        try:
            return publishers[current[0]](claims)
        finally:
            spent[0] += time.perf_counter() - started

    busy_before = machine_busy()
    try:
        for tick in range(2 * TICKS + 2):
            current[0] = "batch" if tick % 2 else "one_by_one"
            broker.flushdb()
            spent[0] = 0.0
            started = time.perf_counter()
            report = dispatch_due(deps, timed_publish)
            if tick >= 2:  # one warm-up tick each
                timings[current[0]].append((time.perf_counter() - started) * 1000)
                publishing[current[0]].append(spent[0] * 1000)
            assert report.total > 0
            queued = sum(int(broker.llen(f"sync.{p}")) for p in PLATFORMS)
            if queued != report.total:
                mismatches.append({"publisher": current[0], "claimed": report.total, "queued": queued})
    finally:
        broker.flushdb()
        broker.close()
        deps.close()
    busy = machine_busy_share(busy_before, machine_busy())
    return {"tick_ms": timings, "publish_ms": publishing, "machine_busy": busy, "mismatches": mismatches}


def _before_after(results: dict[str, Any]) -> str:
    """Against the run kept in bench/results/scheduler.before.json (one `apply_async` per message)."""
    old = before("scheduler")
    if old is None:
        return ""
    was, now = old["data"], results
    largest = str(SIZES[-1])
    rows = [
        (
            "claim 1,000 at 1,000,000 accounts",
            was["sizes"][largest]["median_ms"],
            now["sizes"][largest]["median_ms"],
        ),
        ("whole tick at 1,000,000 accounts", median(was["real_tick_ms"]), median(now["real_tick_ms"])),
    ]
    lines = "\n".join(f"| {what} | {a:.1f} ms | {b:.1f} ms | x{b / a:.2f} |" for what, a, b in rows)
    return f"""
Before and after publishing each platform's batch in one Redis pipeline (`worker.publish`: copies
of one `apply_async` message; before, one `apply_async` per message). Before: the run of
{old["ran_at"]}, kept in `bench/results/scheduler.before.json`; both medians of {TICKS} ticks on
the same shared 2-core machine.

| median | before | after | after / before |
| --- | --- | --- | --- |
{lines}"""


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
        ab = _real_ticks(url)
        results["real_tick_ms"] = real = ab["tick_ms"]["batch"]
        results["publish_ms"] = ab["publish_ms"]
        results["one_by_one_tick_ms"] = ab["tick_ms"]["one_by_one"]
        results["machine_busy"] = busy = ab["machine_busy"]
        results["queued_vs_claimed_mismatches"] = ab["mismatches"]
        publishing = ab["publish_ms"]["batch"]
        old_publishing = ab["publish_ms"]["one_by_one"]

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
publishing {BATCH:,} messages to Redis): median {median(real):.1f} ms (target: under 150 ms), of which publishing
{median(publishing):.1f} ms (median); the machine was {100 * busy:.0f} % busy during these ticks (all
processes, the other engineers' included), which slows the claims' Postgres work as much as ours.

In the same run, alternating tick by tick with the publisher it replaced (one `apply_async` per
message): publishing {median(old_publishing):.1f} ms against {median(publishing):.1f} ms
(x{median(publishing) / median(old_publishing):.2f}), the whole tick
{median(results["one_by_one_tick_ms"]):.1f} ms against {median(real):.1f} ms.
{_before_after(results)}"""
    save("scheduler", "python -m bench scheduler", markdown, results)
    return {
        "median_by_size": {k: v["median_ms"] for k, v in results["sizes"].items()},
        "real_tick_ms": median(real),
    }
