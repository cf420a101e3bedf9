"""Webhook delivery under faults, with real worker/beat processes, the simulator and a receiver
over a socket: the receiver answers 500 for a while; a worker is killed with `kill -9` while
requests are open; Postgres restarts mid-run. Every event reaches the receiver, each webhook-id
at least once, verified with `standardwebhooks`, in order per account."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import migrate
from models.admin import create_workspace
from models.db import make_engine, make_session_factory
from models.tables import AccountSync
from models.webhook_admin import create_endpoint, new_secret
from models.webhooks import OutboxEvent, WebhookDelivery
from ops.testing.processes import wait_until
from ops.testing.receiver import Receiver, running_receiver
from simulator.client import SimulatorClient
from tests.faults.support import PLATFORMS, seed
from tests.support.accounts import CIPHER
from tests.support.fixtures import Processes
from tests.support.postgres import PostgresCluster

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

WEBHOOK_SETTINGS = {
    "DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
    "DRAVO_WEBHOOK_SWEEP_INTERVAL_SECONDS": "0.5",
    "DRAVO_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5",
    "DRAVO_WEBHOOK_BACKOFF_MAX_SECONDS": "2",
    "DRAVO_WEBHOOK_TIMEOUT_SECONDS": "3",
    "DRAVO_WEBHOOK_TASK_BUDGET_SECONDS": "3",
    # The breaker opens during the 500s; a short open time keeps the test short.
    "DRAVO_WEBHOOK_BREAKER_OPEN_SECONDS": "3",
    # A failed first sync is retried within seconds: flaky accounts change status twice.
    "DRAVO_BACKOFF_BASE_SECONDS": "1",
}


def endpoint(sessions: sessionmaker[Session], workspace: str, url: str, secret: str) -> str:
    with sessions.begin() as session:
        return create_endpoint(
            session, CIPHER, workspace, url, (), secret=secret, allow_loopback_http=True
        ).endpoint.id


def seed_accounts(
    simulator: SimulatorClient, sessions: sessionmaker[Session], workspace: str, tag: str
) -> list[str]:
    healthy = seed(simulator, sessions, workspace, PLATFORMS, 4, f"{tag}-ok")
    # The first sync fails (3 tries in it, adapters.http): pending -> failed, then -> synced.
    flaky = seed(
        simulator,
        sessions,
        workspace,
        ("x", "tiktok"),
        4,
        f"{tag}-flaky",
        scenario="flaky",
        params={"fail_count": 5},
    )
    return [a.account_id for a in healthy + flaky]


def outbox_ids(sessions: sessionmaker[Session]) -> dict[str, tuple[str, int]]:
    with sessions() as session:
        return {
            w: (a, i)
            for w, a, i in session.execute(
                select(OutboxEvent.webhook_id, OutboxEvent.account_id, OutboxEvent.id)
            )
        }


def wait_for_events(
    sessions: sessionmaker[Session], accounts: list[str], timeout: float
) -> dict[str, tuple[str, int]]:
    """The outbox once every account is synced (no more status changes to come)."""
    found: dict[str, tuple[str, int]] = {}

    def settled() -> bool:
        try:
            statuses = set(sync_rows(sessions, accounts).values())
            found.clear()
            found.update(outbox_ids(sessions))
        except Exception:  # the database may be restarting
            return False
        return statuses == {"synced"} and len(found) >= len(accounts)

    try:
        wait_until(settled, timeout, 0.5, "every account synced")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {len(found)} events so far") from None
    return dict(found)


def sync_rows(sessions: sessionmaker[Session], accounts: list[str]) -> dict[str, str]:
    with sessions() as session:
        rows = session.execute(
            select(AccountSync.account_id, AccountSync.sync_status).where(
                AccountSync.account_id.in_(accounts)
            )
        )
        return {a: s for a, s in rows}


def check_all_arrived(
    receiver: Receiver, secret: str, events: dict[str, tuple[str, int]], timeout: float
) -> None:
    def arrived() -> bool:
        return set(events) <= {r.headers["webhook-id"] for r in receiver.accepted()}

    wait_until(arrived, timeout, 0.5, "every webhook-id accepted")
    payloads = receiver.verify(secret)
    # In order per account: the first accepted arrival of each event follows the outbox order.
    first: dict[str, int] = {}
    for n, p in enumerate(payloads):
        first.setdefault(p["_webhook_id"], n)
    per_account: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for webhook_id, (account_id, event_id) in events.items():
        per_account[account_id].append((event_id, first[webhook_id]))
    for account_id, pairs in per_account.items():
        arrival = [at for _, at in sorted(pairs)]
        assert arrival == sorted(arrival), (account_id, pairs)


# 4 healthy accounts per platform (one event each) + 8 flaky ones (two each).
EXPECTED_EVENTS = 20 + 16


@pytest.mark.timeout(300)
def test_receiver_500s_for_a_while_then_every_event_arrives(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    faults_env.update(WEBHOOK_SETTINGS)
    secret = new_secret()
    down_until = time.time() + 10
    with running_receiver(lambda n: 500 if time.time() < down_until else 204) as receiver:
        endpoint(session_factory, workspace, receiver.url, secret)
        accounts = seed_accounts(simulator, session_factory, workspace, "r500")
        processes.worker(concurrency=16)
        processes.beat()
        events = wait_for_events(session_factory, accounts, 60)
        assert len(events) == EXPECTED_EVENTS
        check_all_arrived(receiver, secret, events, 90)
        refused = [r for r in receiver.snapshot() if r.status == 500]
    assert refused, "the receiver never answered 500: the test proved nothing"
    with session_factory() as session:
        assert set(session.scalars(select(WebhookDelivery.status))) == {"delivered"}
    print(f"{len(events)} events, {len(refused)} refused attempts, {len(receiver.snapshot())} requests")


@pytest.mark.timeout(300)
def test_kill_9_mid_delivery_every_webhook_id_arrives(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    faults_env.update(WEBHOOK_SETTINGS)
    secret = new_secret()
    # Slow answers, so requests are open when the worker dies.
    with running_receiver(delay=1.5) as receiver:
        endpoint(session_factory, workspace, receiver.url, secret)
        accounts = seed_accounts(simulator, session_factory, workspace, "kill")
        doomed = processes.worker(name="doomed", concurrency=16)
        processes.beat()
        wait_until(lambda: len(receiver.snapshot()) >= 3, 60, 0.05, "deliveries in flight")
        doomed.kill()  # SIGKILL to the whole process group
        killed_at = time.monotonic()
        in_flight = {r.headers["webhook-id"] for r in receiver.snapshot()}
        processes.worker(name="survivor", concurrency=16)
        events = wait_for_events(session_factory, accounts, 60)
        assert len(events) == EXPECTED_EVENTS
        check_all_arrived(receiver, secret, events, 120)
    repeated = len(receiver.snapshot()) - len({r.headers["webhook-id"] for r in receiver.snapshot()})
    print(
        f"{len(events)} events; {len(in_flight)} had a request open at the kill; {repeated} repeated "
        f"requests; all in {time.monotonic() - killed_at:.1f}s after the kill"
    )


def delivery_statuses(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(WebhookDelivery.status)))


@pytest.mark.timeout(300)
def test_postgres_restart_mid_run_loses_nothing(
    faults_env: dict[str, str],
    processes: Processes,
    simulator: SimulatorClient,
    private_postgres: PostgresCluster,
) -> None:
    database_url = private_postgres.create_database("dravo")
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    sessions: sessionmaker[Session] = make_session_factory(engine)
    with sessions.begin() as session:
        workspace = create_workspace(session, "pg-restart")
    faults_env.update(WEBHOOK_SETTINGS, DATABASE_URL=database_url)
    secret = new_secret()
    try:
        with running_receiver(delay=0.3) as receiver:
            endpoint(sessions, workspace, receiver.url, secret)
            accounts = seed_accounts(simulator, sessions, workspace, "pg")
            processes.worker(concurrency=16)
            processes.beat()
            wait_until(lambda: len(receiver.snapshot()) >= 3, 60, 0.05, "deliveries under way")
            private_postgres.stop("immediate")  # a crash: recovery on start
            time.sleep(5)
            private_postgres.start()
            engine.dispose()  # the test's own pooled connections died with the server
            # A flaky sync whose outcome could not be written (database down) is simply redone:
            # its account may go pending -> synced without the failed step, and without its event.
            events = wait_for_events(sessions, accounts, 90)
            check_all_arrived(receiver, secret, events, 120)
            # An attempt answered while its result could not be written is sent again once its
            # lease runs out (at least once): then every delivery is recorded as delivered.
            wait_until(lambda: delivery_statuses(sessions) == {"delivered"}, 90, 0.5, "all delivered")
        print(f"{len(events)} events, {len(receiver.snapshot())} requests across the restart")
    finally:
        processes.stop_all()
        processes.started.clear()
        engine.dispose()
