"""On-demand refresh through a real worker, and a rate-limited platform."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import redis
import redis.asyncio as aredis
from sqlalchemy.orm import Session, sessionmaker

from api.readpool import ReadConnections, make_read_pool
from ops.foundation.settings import get_settings
from simulator.client import SimulatorClient
from tests.e2e.worker.conftest import attempted, rows, wait_for_rows
from tests.support.accounts import connect
from tests.support.fixtures import Processes
from worker.refresh import RefreshResult, build_refresh_service


def test_a_hundred_concurrent_refreshes_make_one_platform_call(
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    e2e_redis: redis.Redis,
    workspace: str,
) -> None:
    sim = simulator.upsert_account("tiktok", "hot-1", params={}, latency_ms=300)
    account_id = connect(session_factory, workspace, "tiktok", "hot-1", sim["access_token"])
    processes.worker(concurrency=16)  # no beat: only refreshes reach the platform
    settings = get_settings()

    async def storm() -> list[RefreshResult]:
        # As the API runs it: one service per process, awaited on its event loop.
        pool = make_read_pool(
            settings.database_url, 8, options="-c default_transaction_read_only=on", timeout=30, name="test"
        )
        await pool.open()
        rows = ReadConnections(pool)
        async_redis = aredis.Redis.from_url(settings.redis_url)
        service = build_refresh_service(settings, rows, e2e_redis, async_redis)
        try:
            return list(await asyncio.gather(*(service.refresh([account_id], 10) for _ in range(100))))
        finally:
            await service.aclose()
            await async_redis.aclose()
            await pool.close()

    results = asyncio.run(storm())

    assert simulator.total_requests("tiktok", "hot-1") == 1
    for result in results:
        assert not result.pending
        assert result.finished | result.skipped_recent == {account_id}
    assert sum(1 for r in results if r.finished) >= 90  # all waited on the same call
    assert rows(session_factory, [account_id])[account_id].sync_status == "synced"


def test_a_rate_limited_platform_waits_for_its_reset_while_others_sync(
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    limited = simulator.upsert_account("x", "limited-1", scenario="rate_limited", params={"reset_seconds": 6})
    limited_id = connect(session_factory, workspace, "x", "limited-1", limited["access_token"])
    others = {}
    for platform in ("instagram", "facebook", "linkedin", "tiktok"):
        pid = "urn:li:organization:42" if platform == "linkedin" else f"{platform}-ok"
        sim = simulator.upsert_account(platform, pid)
        others[connect(session_factory, workspace, platform, pid, sim["access_token"])] = platform

    processes.worker()
    processes.beat()
    deferred = wait_for_rows(session_factory, [limited_id], attempted, timeout=20, what="the 429")[limited_id]
    assert deferred.sync_status == "pending" and deferred.metrics == {}
    assert deferred.deferred_note and "X user rate limit" in deferred.deferred_note
    assert deferred.next_sync_at is not None
    reset_at = deferred.next_sync_at
    simulator.set_scenario("x", "limited-1", "healthy")

    # The other platforms are not held up by X's limit.
    wait_for_rows(session_factory, others, lambda r: r.sync_status == "synced", timeout=20, what="others")

    # No request before the reset time; then exactly one more, which succeeds.
    while datetime.now(UTC) < reset_at:
        assert simulator.total_requests("x", "limited-1") == 1
        time.sleep(0.2)
    done = wait_for_rows(
        session_factory, [limited_id], lambda r: r.sync_status == "synced", timeout=20, what="after the reset"
    )[limited_id]
    assert done.deferred_note is None and done.metrics
    assert simulator.total_requests("x", "limited-1") == 2
