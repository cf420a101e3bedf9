"""One tenant's receivers can't stall another's webhooks: the hard deadline of an attempt against
a slow-loris receiver, lease and hold renewal while a task runs, the circuit breaker, fair
hand-out between workspaces, the endpoint cap, and DNS resolved outside the transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from models import outbox
from models.webhook_admin import (
    EndpointLimitReached,
    create_endpoint,
    list_attempts,
    list_endpoints,
    new_secret,
)
from models.webhooks import WebhookDelivery
from ops.foundation.settings import Settings, get_settings
from ops.testing.receiver import running_receiver
from tests.integration.worker.test_webhook_delivery import add_endpoint, seed_events
from tests.support.accounts import CIPHER, new_workspace
from worker.composition import WorkerDeps, build_deps
from worker.webhooks.delivery import EndpointServer
from worker.webhooks.deps import WebhookParts, build_parts
from worker.webhooks.names import ACTIVE_KEY
from worker.webhooks.sweep import renew, sweep
from worker.webhooks.transport import WebhookTransport

_parts: list[WebhookParts] = []


@pytest.fixture
def isolation_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in {
        "DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
        "DRAVO_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
        "DRAVO_WEBHOOK_BACKOFF_MAX_SECONDS": "0.1",
        "DRAVO_WEBHOOK_TIMEOUT_SECONDS": "1",
        "DRAVO_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "0.5",
        "DRAVO_WEBHOOK_ATTEMPT_DEADLINE_SECONDS": "1.5",
        "DRAVO_WEBHOOK_ENDPOINT_CONCURRENCY": "1",
        "DRAVO_WEBHOOK_MAX_ACTIVE_ENDPOINTS": "4",
        "DRAVO_WEBHOOK_MAX_ACTIVE_PER_WORKSPACE": "3",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def wdeps(isolation_settings: Settings, redis_client: object) -> Iterator[WorkerDeps]:
    built = build_deps(isolation_settings, pool_size=4)
    yield built
    built.close()
    while _parts:
        _parts.pop().transport.close()


def server(deps: WorkerDeps) -> EndpointServer:
    parts = build_parts(deps.settings)
    _parts.append(parts)
    return EndpointServer(deps.settings, deps.sessions, deps.cipher, parts)


def test_a_slow_loris_reply_ends_at_the_attempt_deadline() -> None:
    """A byte every 0.1 s beats a 1 s read timeout forever; the 1.5 s deadline still ends it."""
    transport = WebhookTransport(
        timeout=1, connect_timeout=0.5, attempt_deadline=1.5, allow_loopback_http=True
    )
    try:
        with running_receiver(trickle=0.1, trickle_for=30) as receiver:
            started = time.monotonic()
            reply = transport.post(receiver.url, {}, b"{}")
            took = time.monotonic() - started
    finally:
        transport.close()
    assert reply.status_code is None and reply.error is not None and reply.error.startswith("timeout")
    assert 1.4 <= took < 3.5, took


def test_a_running_task_renews_its_leases_and_its_hold(
    wdeps: WorkerDeps, session_factory: sessionmaker[Session], workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = replace(
        wdeps, settings=wdeps.settings.model_copy(update={"webhook_attempt_deadline_seconds": 3.0})
    )
    beats: list[float] = []
    leases: list[datetime] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            with session_factory() as session:
                value = session.scalar(select(WebhookDelivery.lease_until))
            if value is not None:
                leases.append(value)

    with running_receiver(trickle=0.1, trickle_for=30) as receiver:
        endpoint_id = add_endpoint(session_factory, workspace, receiver.url, new_secret())
        seed_events(session_factory, workspace, {"acc_a": 1})
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            report = server(deps).serve(
                endpoint_id,
                budget_seconds=0.5,
                alive=lambda: beats.append(time.monotonic()),
                renew_seconds=0.3,
            )
        finally:
            done.set()
            watcher.join()
    assert report.attempts == 1 and report.delivered == 0
    assert len(beats) >= 5  # about 3 s of attempt, a beat every 0.3 s
    assert len(set(leases)) >= 3 and max(leases) > min(leases)  # the lease moved while it ran


def test_the_sweep_never_hands_out_an_endpoint_whose_task_still_runs(
    wdeps: WorkerDeps, session_factory: sessionmaker[Session], workspace: str
) -> None:
    endpoint_id = add_endpoint(session_factory, workspace, "http://127.0.0.1:9/x", new_secret())
    seed_events(session_factory, workspace, {"acc_a": 1})
    published: list[str] = []
    assert sweep(wdeps, published.append).handed_out == 1
    # The hold is about to run out while the task still runs (a long attempt): its renewal keeps it.
    wdeps.redis.zadd(ACTIVE_KEY, {endpoint_id: time.time() + 0.3})
    renew(wdeps, endpoint_id)
    time.sleep(0.5)
    assert sweep(wdeps, published.append).handed_out == 0
    assert published == [endpoint_id]


def test_the_breaker_opens_after_failed_attempts_and_one_probe_closes_it(
    wdeps: WorkerDeps, session_factory: sessionmaker[Session], workspace: str
) -> None:
    deps = replace(
        wdeps,
        settings=wdeps.settings.model_copy(
            update={
                "webhook_breaker_failures": 3,
                # Long enough that a loaded machine still checks "closed" inside it.
                "webhook_breaker_open_seconds": 3.0,
            }
        ),
    )
    with running_receiver(lambda n: 503 if n < 3 else 204) as receiver:
        endpoint_id = add_endpoint(session_factory, workspace, receiver.url, new_secret())
        seed_events(session_factory, workspace, {f"acc_{n}": 1 for n in range(6)})
        opened = server(deps).serve(endpoint_id, budget_seconds=5)
        assert opened.breaker_open and opened.delivered == 0 and opened.attempts == 3
        with session_factory() as session:
            [view] = list_endpoints(session, workspace)
            due = outbox.due_endpoints(session, datetime.now(UTC))
        assert view.enabled and view.breaker_open_until is not None
        assert view.attempts_failed_in_row == 3
        assert due == []  # skipped by the sweep while open
        assert server(deps).serve(endpoint_id, budget_seconds=1).attempts == 0  # nor claimed
        time.sleep(3.1)
        with session_factory() as session:
            probe = outbox.claim(session, endpoint_id, datetime.now(UTC), 2, deps_lease(deps))
            session.rollback()
        assert len(probe) == 1  # half-open: one probe, not the endpoint's concurrency
        closed = server(deps).serve(endpoint_id, budget_seconds=5)
    assert not closed.breaker_open and closed.delivered == 6
    with session_factory() as session:
        [view] = list_endpoints(session, workspace)
    assert view.attempts_failed_in_row == 0 and view.breaker_open_until is None


def deps_lease(deps: WorkerDeps):  # type: ignore[no-untyped-def]
    from worker.webhooks.deps import lease

    return lease(deps.settings)


def test_a_workspace_with_a_dead_backlog_does_not_hold_back_another(
    wdeps: WorkerDeps, session_factory: sessionmaker[Session], workspace: str
) -> None:
    """Workspace A: 4 dead endpoints with thousands of deliveries waiting longer; workspace B's
    endpoint gets a slot in the very first sweep and its delivery goes out at once."""
    dead = [
        add_endpoint(session_factory, workspace, f"http://127.0.0.1:9/{n}", new_secret()) for n in range(4)
    ]
    seed_events(session_factory, workspace, {f"acc_{n}": 1 for n in range(2000)})
    with session_factory.begin() as session:
        session.execute(text("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 hour'"))
    other = new_workspace(session_factory, "other")
    with running_receiver() as receiver:
        healthy = add_endpoint(session_factory, other, receiver.url, new_secret())
        seed_events(session_factory, other, {"acc_b": 1})
        published: list[str] = []
        started = time.monotonic()
        report = sweep(wdeps, published.append)
        assert report.handed_out == 4
        assert healthy in published and len(set(published) & set(dead)) == 3
        assert server(wdeps).serve(healthy, budget_seconds=2).delivered == 1
        took = time.monotonic() - started
        assert len(receiver.accepted()) == 1
    assert took < 5, took
    with session_factory() as session:
        assert len(list_attempts(session, healthy)) == 1


def test_endpoints_per_workspace_are_capped(session_factory: sessionmaker[Session], workspace: str) -> None:
    def create() -> str:
        with session_factory.begin() as session:
            return create_endpoint(
                session,
                CIPHER,
                workspace,
                "http://127.0.0.1:9/x",
                (),
                secret=new_secret(),
                allow_loopback_http=True,
                max_per_workspace=2,
            ).endpoint.id

    create()
    create()
    with pytest.raises(EndpointLimitReached, match="DRAVO_WEBHOOK_MAX_ENDPOINTS_PER_WORKSPACE=2"):
        create()


def test_the_target_is_resolved_before_the_transaction_opens(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    seen: list[int] = []

    def resolver(host: str, port: int) -> Sequence[str]:
        with session_factory() as probe:
            seen.append(
                int(
                    probe.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND state LIKE 'idle in transaction%'"
                        )
                    )
                    or 0
                )
            )
        return ["93.184.215.14"]

    with session_factory.begin() as session:
        create_endpoint(
            session,
            CIPHER,
            workspace,
            "https://hooks.example.com/x",
            (),
            secret=new_secret(),
            allow_loopback_http=False,
            resolve=resolver,
        )
    assert seen == [0]  # no transaction of ours was open (holding locks) while DNS was asked
