"""One sync in process: claim, adapter call against the simulator, outcome row, snapshot."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.tables import AccountSync, MetricSnapshot
from simulator.client import SimulatorClient
from tests.support.accounts import connect
from worker.composition import WorkerDeps
from worker.sync import SyncRunner


def row(sessions: sessionmaker[Session], account_id: str) -> AccountSync:
    with sessions() as session:
        found = session.get(AccountSync, account_id)
        assert found is not None
        return found


def test_healthy_tiktok_account_is_synced(
    deps: WorkerDeps, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    sim = simulator.upsert_account("tiktok", "open-1")
    account_id = connect(session_factory, workspace, "tiktok", "open-1", sim["access_token"])

    report = SyncRunner(deps).run(account_id, None, "inline")

    assert report.claimed and report.written
    synced = row(session_factory, account_id)
    assert synced.sync_status == "synced", synced.error_message
    assert synced.metrics["follower_count"] > 0
    assert synced.lease_token is None
    assert synced.next_sync_at is not None and synced.stale_after is not None
    assert synced.next_sync_at < synced.stale_after
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MetricSnapshot)) == 1
    assert simulator.total_requests("tiktok", "open-1") == report.calls
