"""Two beats, three workers, 1,000 accounts for 5 minutes with a one-minute freshness period:
every account is synced every period, and never twice in one (each sync's calls counted from the
simulator's timestamped request log)."""

from __future__ import annotations

import itertools
import os
import time

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ops.testing.processes import free_port
from simulator.client import SimulatorClient
from tests.faults.support import (
    OBSERVED_CALLS_PER_SYNC,
    PLATFORMS,
    CredentialScan,
    calls_by_account,
    group_syncs,
    scrape,
    seed,
    snapshot_counts,
    sync_rows,
)
from tests.support.fixtures import Processes

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

ACCOUNTS = 1000
SOAK_SECONDS = float(os.environ.get("DRAVO_FAULTS_SOAK_SECONDS", "300"))
FRESHNESS_SECONDS = 60
MARGIN, JITTER = 0.15, 0.05
# The earliest next read after a read; one sync's calls take a second or two.
MIN_GAP_SECONDS = FRESHNESS_SECONDS * (1 - MARGIN - JITTER) - 3


@pytest.mark.timeout(SOAK_SECONDS + 300)
def test_two_beats_three_workers_1000_accounts(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
    credential_scan: CredentialScan,
) -> None:
    faults_env.update(
        {f"DRAVO_{p.upper()}_FRESHNESS_SECONDS": str(FRESHNESS_SECONDS) for p in PLATFORMS},
        DRAVO_SCHEDULE_MARGIN_FRACTION=str(MARGIN),
        DRAVO_SCHEDULE_JITTER_FRACTION=str(JITTER),
        DRAVO_LEASE_SECONDS="30",
    )
    simulator.set_latency(20)
    accounts = seed(
        simulator, session_factory, workspace, PLATFORMS, ACCOUNTS // len(PLATFORMS), "soak", credential_scan
    )
    ids = [a.account_id for a in accounts]
    metrics_ports = []
    for n in range(3):
        metrics_ports.append(free_port())
        processes.env["DRAVO_WORKER_METRICS_PORT"] = str(metrics_ports[-1])
        processes.worker(name=f"worker-{n}", concurrency=16)
    processes.beat(name="beat-1")
    processes.beat(name="beat-2")
    started = time.time()
    time.sleep(SOAK_SECONDS)
    for n, port in enumerate(metrics_ports):
        credential_scan.texts[f"worker-{n} /metrics"] = scrape(f"http://127.0.0.1:{port}/metrics")
    for proc in processes.started:
        assert proc.alive(), f"{proc.name} died:\n{proc.tail()}"
    processes.stop_all()  # stops the workers last: in-flight syncs finish
    processes.started.clear()
    elapsed = time.time() - started

    rows = sync_rows(session_factory, ids)
    statuses = {r.sync_status for r in rows.values()}
    assert statuses == {"synced"}, statuses
    snapshots = snapshot_counts(session_factory, ids)
    calls = calls_by_account(simulator.request_log())
    periods = []
    problems = []
    for account in accounts:
        syncs = group_syncs(calls[(account.platform, account.platform_account_id)], quiet_seconds=10)
        periods.append(len(syncs))
        sizes = {len(s) for s in syncs}
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(syncs)]
        if sizes != {OBSERVED_CALLS_PER_SYNC[account.platform]}:
            problems.append(f"{account}: calls per sync {sorted(len(s) for s in syncs)}")
        if gaps and min(gaps) < MIN_GAP_SECONDS:
            problems.append(f"{account}: two syncs {min(gaps):.1f}s apart")
        if snapshots[account.account_id] != len(syncs):
            problems.append(f"{account}: {len(syncs)} syncs but {snapshots[account.account_id]} snapshots")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:20])
    # Nobody starves: everyone is read about once a period (the first read waits for the backlog).
    expected = int(elapsed // (FRESHNESS_SECONDS * (1 - MARGIN)))
    assert min(periods) >= expected - 1, (min(periods), expected)
    total_calls = sum(len(t) for key, t in calls.items() if key[1] != "_unknown")
    print(
        f"{len(accounts)} accounts, {elapsed:.0f}s: {sum(periods)} syncs ({min(periods)}..{max(periods)} "
        f"per account), {total_calls} platform calls, no duplicate in any period"
    )

    credential_scan.collect(simulator)
    credential_scan.add_rows(session_factory)
    print("credential scan:", credential_scan.check())
