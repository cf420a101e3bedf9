"""A slow-loris webhook receiver can't stop syncing: real worker and beat processes, the
simulator, and a receiver that answers every delivery one header byte every half second.

Six endpoints of one workspace point at it. Webhook deliveries run in the worker's own webhook
process, each attempt ends at its hard deadline, and the sync process keeps all its slots: due
accounts are synced on time while the receiver trickles (docs/webhooks.md, "Limits and
isolation"). Before, deliveries held the shared slots for minutes and no sync ran."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.tables import AccountSync
from models.webhooks import WebhookAttempt
from ops.testing.processes import wait_until
from ops.testing.receiver import running_receiver
from simulator.client import SimulatorClient
from tests.faults.support import PLATFORMS, seed
from tests.faults.test_webhook_faults import endpoint, sync_rows
from tests.support.fixtures import Processes

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

DEADLINE_SECONDS = 4.0
SLOW_LORIS_SETTINGS = {
    "DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
    "DRAVO_WEBHOOK_SWEEP_INTERVAL_SECONDS": "0.5",
    "DRAVO_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5",
    "DRAVO_WEBHOOK_BACKOFF_MAX_SECONDS": "2",
    # Per-read timeouts a byte every 0.5 s never trips; the attempt deadline does.
    "DRAVO_WEBHOOK_TIMEOUT_SECONDS": "3",
    "DRAVO_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
    "DRAVO_WEBHOOK_ATTEMPT_DEADLINE_SECONDS": str(DEADLINE_SECONDS),
    "DRAVO_WEBHOOK_TASK_BUDGET_SECONDS": "3",
    "DRAVO_WEBHOOK_MAX_ACTIVE_ENDPOINTS": "4",
    # Keep the receiver busy for the whole test: the breaker has its own tests.
    "DRAVO_WEBHOOK_BREAKER_FAILURES": "1000",
}
# A sync slot per due account at most: webhooks taking any of them would show as lateness.
SYNC_SLOTS = 4
ON_TIME_SECONDS = 10.0


@pytest.mark.timeout(300)
def test_a_slow_loris_receiver_leaves_scheduled_syncs_on_time(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    faults_env.update(SLOW_LORIS_SETTINGS)
    with running_receiver(trickle=0.5, trickle_for=240) as receiver:
        for _ in range(6):
            endpoint(
                session_factory,
                workspace,
                receiver.url,
                "whsec_" + "c2xvdy1sb3Jpcy1zZWNyZXQtMzItYnl0ZXMhISEhIQ==",
            )
        accounts = [a.account_id for a in seed(simulator, session_factory, workspace, PLATFORMS, 2, "loris")]
        processes.worker(concurrency=SYNC_SLOTS)
        processes.beat()
        wait_until(
            lambda: set(sync_rows(session_factory, accounts).values()) == {"synced"}, 60, 0.5, "first syncs"
        )
        # Every first sync wrote a status change: 6 endpoints x 10 events now trickle.
        wait_until(lambda: len(receiver.snapshot()) >= 8, 60, 0.2, "the receiver trickling to many requests")
        time.sleep(2 * DEADLINE_SECONDS)  # long enough for tasks to pile up, were they able to

        due_at = datetime.now(UTC)
        with session_factory.begin() as session:
            session.execute(
                update(AccountSync).where(AccountSync.account_id.in_(accounts)).values(next_sync_at=due_at)
            )

        def synced_again() -> bool:
            with session_factory() as session:
                done = session.scalar(
                    select(func.count())
                    .select_from(AccountSync)
                    .where(AccountSync.account_id.in_(accounts), AccountSync.last_attempt_at > due_at)
                )
            return done == len(accounts)

        started = time.monotonic()
        wait_until(synced_again, 60, 0.2, "every due account synced again")
        lateness = time.monotonic() - started
        trickled = len(receiver.snapshot())
    with session_factory() as session:
        longest = session.scalar(select(func.max(WebhookAttempt.latency_ms))) or 0
        attempts = session.scalar(select(func.count()).select_from(WebhookAttempt)) or 0
    print(
        f"{len(accounts)} due accounts synced {lateness:.1f}s after they came due; {trickled} slow-loris "
        f"requests, {attempts} recorded attempts, the longest {longest} ms"
    )
    assert lateness < ON_TIME_SECONDS
    assert attempts > 0 and longest < (DEADLINE_SECONDS + 1.5) * 1000
