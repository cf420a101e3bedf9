"""kill -9 of a worker with 500 syncs in flight: every account is synced again within two lease
periods, by exactly one more sync, and written once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ops.testing.processes import wait_until
from simulator.client import SimulatorClient
from tests.faults.support import (
    OBSERVED_CALLS_PER_SYNC,
    PLATFORMS,
    CredentialScan,
    Seeded,
    calls_by_account,
    seed,
    snapshot_counts,
    sync_rows,
)
from tests.support.fixtures import Processes

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

IN_FLIGHT = 500
LEASE_SECONDS = 40
# Long enough that no sync finishes before all 500 have started; 3 calls (LinkedIn) fit in a lease.
PLATFORM_LATENCY_MS = 12_000


@pytest.mark.timeout(600)
def test_kill_9_with_500_syncs_in_flight(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
    credential_scan: CredentialScan,
) -> None:
    faults_env.update(
        DRAVO_LEASE_SECONDS=str(LEASE_SECONDS),
        DRAVO_HTTP_TIMEOUT_SECONDS="15",
        DRAVO_HTTP_MAX_CONNECTIONS="1000",
        DRAVO_DISPATCH_BATCH_SIZE="500",
    )
    accounts = seed(
        simulator, session_factory, workspace, PLATFORMS, IN_FLIGHT // len(PLATFORMS), "kill", credential_scan
    )
    by_key = {(a.platform, a.platform_account_id): a for a in accounts}
    simulator.set_latency(PLATFORM_LATENCY_MS)

    doomed = processes.worker(name="doomed", concurrency=IN_FLIGHT + 20, timeout=90)
    processes.beat()

    def all_in_flight() -> bool:
        return len(set(calls_by_account(simulator.request_log())) & set(by_key)) == IN_FLIGHT

    wait_until(all_in_flight, PLATFORM_LATENCY_MS / 1000 - 1, 0.2, "500 accounts with a platform call open")
    assert sum(snapshot_counts(session_factory, by_key_ids(accounts)).values()) == 0, "a sync finished early"
    doomed.kill()
    killed_at = time.time()
    assert not doomed.alive()
    simulator.set_latency(0)

    processes.worker(name="survivor", concurrency=32)
    ids = by_key_ids(accounts)

    def all_synced() -> bool:
        return all(r.sync_status == "synced" for r in sync_rows(session_factory, ids).values())

    wait_until(all_synced, 2 * LEASE_SECONDS, 0.5, "every account synced within two lease periods")
    recovered_in = time.time() - killed_at
    time.sleep(2)  # anything duplicated would show up now

    rows = sync_rows(session_factory, ids)
    assert all(r.lease_token is None and r.consecutive_failures == 0 for r in rows.values())
    assert set(snapshot_counts(session_factory, ids).values()) == {1}, "an account was written twice"
    calls = calls_by_account(simulator.request_log())
    for key, seeded in by_key.items():
        before = [t for t in calls[key] if t < killed_at]
        after = [t for t in calls[key] if t >= killed_at]
        # The killed sync got 1..N calls out; the survivor made exactly one whole sync.
        assert 1 <= len(before) <= OBSERVED_CALLS_PER_SYNC[seeded.platform], (key, before)
        assert len(after) == OBSERVED_CALLS_PER_SYNC[seeded.platform], (key, after)
    print(f"500 killed in flight; all resynced {recovered_in:.1f}s after the kill (lease {LEASE_SECONDS}s)")

    processes.stop_all()
    processes.started.clear()
    credential_scan.collect(simulator)
    credential_scan.add_rows(session_factory)
    print("credential scan:", credential_scan.check())


def by_key_ids(accounts: list[Seeded]) -> list[str]:
    return [a.account_id for a in accounts]
