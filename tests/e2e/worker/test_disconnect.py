"""`dravo-sync account disconnect` while a real worker is inside the platform call."""

from __future__ import annotations

import subprocess
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.tables import Account, AccountSync, MetricSnapshot
from simulator.client import SimulatorClient
from tests.support.accounts import connect
from tests.support.fixtures import Processes
from tests.support.processes import cli_args


def test_a_sync_in_flight_writes_nothing_after_disconnect(
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
    e2e_env: dict[str, str],
) -> None:
    sim = simulator.upsert_account("tiktok", "slow-1", scenario="slow", params={"latency_ms": 4000})
    account_id = connect(session_factory, workspace, "tiktok", "slow-1", sim["access_token"])
    worker = processes.worker()
    processes.beat()
    worker.wait_for_log("Task sync.account[", timeout=20)
    time.sleep(1.0)  # the worker is inside the 4 s platform call, holding the lease
    with session_factory() as session:
        assert session.get_one(AccountSync, account_id).lease_token is not None

    done = subprocess.run(
        cli_args("account", "disconnect", account_id), env=e2e_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "the sync in flight was revoked and will write nothing" in done.stdout

    # The platform answers, the worker tries to write, and finds no lease.
    worker.wait_for_log("sync.lease_lost", timeout=20)
    assert simulator.total_requests("tiktok", "slow-1") == 1
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
