"""Failures of our own processes: a worker killed mid-sync, two beats, a Redis restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.tables import MetricSnapshot
from ops.foundation import platforms as platform_registry
from ops.testing.processes import RedisServer, free_port, wait_until
from simulator.client import SimulatorClient
from tests.e2e.worker.conftest import wait_for_rows
from tests.support.accounts import connect
from tests.support.fixtures import Processes

# Platform calls of one healthy sync, per platform, as the simulator counts them (the registry's
# calls_per_sync; estimated_calls_per_sync is what the dispatcher plans with).
OBSERVED_CALLS_PER_SYNC = platform_registry.calls_per_sync()


def snapshots(sessions: sessionmaker[Session], account_id: str) -> int:
    with sessions() as session:
        query = (
            select(func.count()).select_from(MetricSnapshot).where(MetricSnapshot.account_id == account_id)
        )
        return int(session.scalar(query) or 0)


def synced(row: object) -> bool:
    return getattr(row, "sync_status", None) == "synced"


def test_worker_killed_mid_sync_is_resynced_after_its_lease(
    processes: Processes, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    sim = simulator.upsert_account("tiktok", "slow-1", scenario="slow", params={"latency_ms": 4000})
    account_id = connect(session_factory, workspace, "tiktok", "slow-1", sim["access_token"])
    doomed = processes.worker(name="doomed")
    processes.beat()
    doomed.wait_for_log("Task sync.account[", timeout=20)
    time.sleep(1.5)  # inside the 4 s platform call
    doomed.kill()
    killed_at = time.monotonic()
    simulator.set_scenario("tiktok", "slow-1", "healthy")

    processes.worker(name="survivor")
    row = wait_for_rows(session_factory, [account_id], synced, timeout=40, what="the resync")[account_id]
    # Not before the lease (10 s) ran out: nobody else may write while the dead task held it.
    assert time.monotonic() - killed_at >= 5
    assert row.lease_token is None and row.consecutive_failures == 0
    assert snapshots(session_factory, account_id) == 1  # written once, by the survivor
    assert simulator.total_requests("tiktok", "slow-1") == 2  # the killed call and the resync


def test_two_beats_never_call_an_account_twice_in_one_period(
    processes: Processes, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    accounts: dict[str, tuple[str, str]] = {}
    for platform in OBSERVED_CALLS_PER_SYNC:
        for n in range(6):
            pid = f"urn:li:organization:{700 + n}" if platform == "linkedin" else f"{platform}-beat-{n}"
            sim = simulator.upsert_account(platform, pid)
            # A known expiry, so no first refresh to learn it (docs/platforms.md) adds to the counted calls.
            expires = datetime.now(UTC) + timedelta(days=30)
            account_id = connect(
                session_factory, workspace, platform, pid, sim["access_token"], expires_at=expires
            )
            accounts[account_id] = (platform, pid)

    processes.worker(concurrency=16)
    first, second = processes.beat(name="beat-1"), processes.beat(name="beat-2")
    wait_for_rows(session_factory, accounts, synced, timeout=40, what="every account synced")
    time.sleep(3)  # both beats keep ticking: nothing is due again for hours

    assert first.log_text().count("sync.dispatch_due") >= 3
    assert second.log_text().count("sync.dispatch_due") >= 3
    for account_id, (platform, pid) in accounts.items():
        assert simulator.total_requests(platform, pid) == OBSERVED_CALLS_PER_SYNC[platform], (platform, pid)
        assert snapshots(session_factory, account_id) == 1


def test_worker_reconnects_after_a_redis_restart(
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
    tmp_path: Path,
) -> None:
    server = RedisServer(port=free_port(), directory=tmp_path / "redis")
    server.start()
    try:
        processes.env["REDIS_URL"] = server.url
        before = simulator.upsert_account("tiktok", "before-restart")
        first = connect(session_factory, workspace, "tiktok", "before-restart", before["access_token"])
        processes.worker()
        processes.beat()
        wait_for_rows(session_factory, [first], synced, timeout=20, what="the first sync")

        server.stop()  # all queues, budgets and unacked messages are gone
        time.sleep(2)
        server.start()
        after = simulator.upsert_account("x", "after-restart")
        second = connect(session_factory, workspace, "x", "after-restart", after["access_token"])

        wait_for_rows(session_factory, [second], synced, timeout=60, what="a sync after the restart")
        client = redis.Redis.from_url(server.url)
        try:
            wait_until(lambda: bool(client.keys("dravo:budget:*")), 5, what="budget keys written again")
        finally:
            client.close()
    finally:
        processes.stop_all()
        processes.started.clear()
        server.stop()
