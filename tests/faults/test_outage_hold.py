"""An outage hold with real worker and beat processes: X answers 5xx for 25 s while 40 of its
accounts are due, overdue by different amounts and claimed in an order unrelated to that. A few
syncs find X down and hold it: the rest are not called while it is down, their rows stay as they
were, and once X answers again the held accounts are read stalest first."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from models.tables import AccountSync
from ops.testing.processes import wait_until
from ops.testing.ranks import spearman
from simulator.client import SimulatorClient
from tests.faults.support import calls_by_account, seed, sync_rows
from tests.support.fixtures import Processes

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

BROKEN = "x"
ACCOUNTS = 40
OUTAGE_SECONDS = 25
HOLD_SETTINGS = {
    "DRAVO_OUTAGE_MIN_FAILURES": "5",
    "DRAVO_OUTAGE_HOLD_SECONDS": "8",
    "DRAVO_OUTAGE_PROBE_SYNCS": "1",
    "DRAVO_BACKOFF_BASE_SECONDS": "3",
}


@pytest.mark.timeout(300)
def test_a_held_platform_is_spared_and_drained_stalest_first(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    faults_env.update(HOLD_SETTINGS)
    accounts = seed(simulator, session_factory, workspace, [BROKEN], ACCOUNTS, "hold")
    # Each read long ago, by a different amount; all due now, so the first claim goes by account id.
    now = datetime.now(UTC)
    order = list(range(ACCOUNTS))
    random.Random(7).shuffle(order)
    read_at = {
        a.account_id: now - timedelta(hours=7, minutes=rank) for a, rank in zip(accounts, order, strict=True)
    }
    with session_factory.begin() as session:
        for account_id, at in read_at.items():
            session.execute(
                update(AccountSync)
                .where(AccountSync.account_id == account_id)
                .values(
                    sync_status="synced",
                    metrics={"followers_count": 1},
                    last_updated_at=at,
                    stale_after=at + timedelta(hours=6),
                    next_sync_at=now - timedelta(seconds=1),
                )
            )

    outage_end = simulator.set_outage(BROKEN, OUTAGE_SECONDS)
    assert outage_end is not None
    processes.worker(concurrency=8)
    processes.beat()

    ids = [a.account_id for a in accounts]

    def held_rows() -> int:
        rows = sync_rows(session_factory, ids).values()
        return sum(1 for r in rows if r.deferred_note and "outage hold" in r.deferred_note)

    wait_until(lambda: held_rows() > 0, OUTAGE_SECONDS, 0.2, "a held row")
    for row in sync_rows(session_factory, ids).values():
        if row.deferred_note and "outage hold" in row.deferred_note:
            # Held, not failed: the row is as it was, only its next sync moved.
            assert row.sync_status == "synced" and row.metrics == {"followers_count": 1}
            assert row.last_updated_at == read_at[row.account_id]

    def all_read_again() -> bool:
        rows = sync_rows(session_factory, ids).values()
        return all(r.last_updated_at is not None and r.last_updated_at.timestamp() > outage_end for r in rows)

    wait_until(all_read_again, OUTAGE_SECONDS + 90, 0.5, "every account read after the outage")
    assert all(r.sync_status == "synced" for r in sync_rows(session_factory, ids).values())

    by_pid = {a.platform_account_id: a.account_id for a in accounts}
    calls = {
        by_pid[pid]: times
        for (platform, pid), times in calls_by_account(simulator.request_log(BROKEN)).items()
        if pid in by_pid
    }
    during = {a: [t for t in times if t < outage_end] for a, times in calls.items()}
    called_while_down = {a for a, times in during.items() if times}
    calls_while_down = sum(len(times) for times in during.values())
    print(
        f"{len(called_while_down)} of {ACCOUNTS} accounts called while X was down, {calls_while_down} calls"
    )
    # Without holds every account would be tried (3 calls each), and tried again after its backoff.
    assert calls_while_down < ACCOUNTS * 3 / 2
    assert len(called_while_down) < ACCOUNTS * 3 / 4

    spared = [a for a in ids if a not in called_while_down]
    first_after = {a: min(t for t in calls[a] if t >= outage_end) for a in spared}
    staleness = [-read_at[a].timestamp() for a in spared]  # larger: read longer ago
    correlation = spearman(staleness, [-first_after[a] for a in spared])
    print(f"stalest first among the {len(spared)} spared accounts: Spearman {correlation:.2f}")
    assert correlation >= 0.7
