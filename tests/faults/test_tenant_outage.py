"""One tenant's failing accounts can't hold a platform for everyone (worker.outage), with real
worker and beat processes and the simulator.

A hostile workspace has 30 TikTok accounts that never read: 15 whose stored token holds a line
break (as rows stored before the input rules were; the API, the CLI and import refuse such a token
now), which are refused before any call, and 15 the simulator answers with 5xx every time, which
do find TikTok "down". They are made due again and again, as re-posting them would. Another
workspace's TikTok accounts keep being read on time throughout, and no hold ever starts.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from models.tables import AccountSync
from ops.testing.processes import wait_until
from simulator.client import SimulatorClient
from tests.faults.support import seed, sync_rows
from tests.support.accounts import connect, new_workspace
from tests.support.fixtures import Processes
from worker.outage import hold_key

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

PLATFORM = "tiktok"
HOSTILE = 30
VICTIMS = 6
ROUNDS = 6
ON_TIME_SECONDS = 8.0  # a due account is read within this (the dispatcher ticks every 0.5 s)
SETTINGS = {
    # Without the workspace rule, 5 failures would hold TikTok within the first round.
    "DRAVO_OUTAGE_MIN_FAILURES": "5",
    "DRAVO_OUTAGE_HOLD_SECONDS": "30",
    "DRAVO_BACKOFF_BASE_SECONDS": "1",
}


def _due_now(sessions: sessionmaker[Session], ids: list[str]) -> None:
    with sessions.begin() as session:
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id.in_(ids))
            .values(next_sync_at=datetime.now(UTC) - timedelta(seconds=1))
        )


@pytest.mark.timeout(300)
def test_one_workspaces_failing_accounts_never_hold_the_platform(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    faults_env.update(SETTINGS)
    hostile = new_workspace(session_factory, "hostile")
    unsendable = []
    for n in range(HOSTILE // 2):
        pid = f"bad-token-{n}"
        simulator.upsert_account(PLATFORM, pid)
        unsendable.append(connect(session_factory, hostile, PLATFORM, pid, f"act.bad-{n}\nX-Injected: 1"))
    failing = seed(
        simulator,
        session_factory,
        hostile,
        [PLATFORM],
        HOSTILE - len(unsendable),
        "failing",
        scenario="flaky",
        params={"fail_count": 1_000_000},
    )
    hostile_ids = unsendable + [a.account_id for a in failing]
    victims = [a.account_id for a in seed(simulator, session_factory, workspace, [PLATFORM], VICTIMS, "ok")]

    processes.worker(concurrency=8)
    processes.beat()
    store = redis.Redis.from_url(faults_env["REDIS_URL"])
    held = False

    def victims_read_since(start: float) -> bool:
        nonlocal held  # checked at every poll: a hold of any length would be seen
        held = held or bool(store.exists(hold_key(PLATFORM)))
        rows = sync_rows(session_factory, victims).values()
        return all(r.last_updated_at is not None and r.last_updated_at.timestamp() > start for r in rows)

    lateness = []
    for _ in range(ROUNDS):
        start = time.time()
        _due_now(session_factory, hostile_ids + victims)
        wait_until(
            functools.partial(victims_read_since, start),
            ON_TIME_SECONDS,
            0.2,
            "the other workspace read on time",
        )
        lateness.append(time.time() - start)
        assert not held, "a hold started"
        time.sleep(max(0.0, 4.0 - (time.time() - start)))
    print(f"other workspace read within {max(lateness):.1f} s of due in each of {ROUNDS} rounds")

    rows = sync_rows(session_factory, victims + hostile_ids)
    assert all(rows[v].sync_status == "synced" for v in victims)
    assert not any(r.deferred_note and "outage hold" in r.deferred_note for r in rows.values())
    # The hostile accounts did fail all along: the unsendable ones without a single call.
    assert all(rows[h].sync_status == "failed" for h in hostile_ids)
    assert all("could not be sent" in (rows[u].error_message or "") for u in unsendable)
    assert all(simulator.total_requests(PLATFORM, f"bad-token-{n}") == 0 for n in range(len(unsendable)))
    assert sum(simulator.total_requests(PLATFORM, a.platform_account_id) for a in failing) >= 5
    assert not store.exists(hold_key(PLATFORM))
