"""A disconnect while a real worker is inside the platform call: the sync writes nothing."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.admin import disconnect_account
from models.tables import Account, AccountSync, MetricSnapshot
from ops.testing.processes import wait_until
from simulator.client import SimulatorClient
from tests.support.accounts import connect
from tests.support.fixtures import Processes


def test_a_sync_in_flight_writes_nothing_after_disconnect(
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
    e2e_env: dict[str, str],
) -> None:
    # Below the HTTP timeout (8 s) and well inside the lease, on a loaded machine too.
    e2e_env["DRAVO_LEASE_SECONDS"] = "40"
    sim = simulator.upsert_account("tiktok", "slow-1", scenario="slow", params={"latency_ms": 6000})
    account_id = connect(session_factory, workspace, "tiktok", "slow-1", sim["access_token"])
    worker = processes.worker()
    processes.beat()
    # The simulator counts a request on arrival, then waits: the worker is inside the call.
    wait_until(lambda: simulator.total_requests("tiktok", "slow-1") == 1, 30, 0.05, "the platform call")

    with session_factory.begin() as session:
        outcome = disconnect_account(session, account_id)
    assert outcome is not None and outcome.sync_in_flight

    # The platform answers, the worker tries to write, and finds no lease.
    worker.wait_for_log("sync.lease_lost", timeout=30)
    time.sleep(2.0)  # a few dispatcher ticks: nothing claims it again
    with session_factory() as session:
        sync = session.get_one(AccountSync, account_id)
        account = session.get_one(Account, account_id)
        snapshots = session.scalar(
            select(func.count()).select_from(MetricSnapshot).where(MetricSnapshot.account_id == account_id)
        )
    assert sync.sync_status == "pending" and sync.metrics == {} and sync.last_updated_at is None
    assert sync.next_sync_at is None and sync.lease_token is None
    assert account.credentials == b"" and account.disconnected_at is not None
    assert snapshots == 0
    assert simulator.total_requests("tiktok", "slow-1") == 1
