"""Delivering to a real receiver over a socket: signed, retried, recorded, disabled, guarded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models import outbox
from models.webhook_admin import create_endpoint, list_attempts, list_endpoints, new_secret
from models.webhooks import WebhookDelivery
from ops.foundation.settings import Settings, get_settings
from ops.testing.receiver import running_receiver
from tests.support.accounts import CIPHER
from worker.composition import WorkerDeps, build_deps
from worker.webhooks.delivery import EndpointServer
from worker.webhooks.deps import WebhookParts, build_parts


@pytest.fixture
def fast_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    monkeypatch.setenv("DRAVO_WEBHOOK_BACKOFF_BASE_SECONDS", "0.05")
    monkeypatch.setenv("DRAVO_WEBHOOK_BACKOFF_MAX_SECONDS", "0.2")
    monkeypatch.setenv("DRAVO_WEBHOOK_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("DRAVO_WEBHOOK_ENDPOINT_CONCURRENCY", "2")
    # These tests follow retries; the breaker has its own tests.
    monkeypatch.setenv("DRAVO_WEBHOOK_BREAKER_FAILURES", "1000")
    get_settings.cache_clear()
    return get_settings()


def seed_events(sessions: sessionmaker[Session], workspace: str, per_account: dict[str, int]) -> None:
    """Outbox events as the outcome statement writes them (status_changed, by SQL)."""
    with sessions.begin() as session:
        for account_id, count in per_account.items():
            for n in range(count):
                session.execute(
                    text(
                        f"""{outbox.INSERT_EVENT_SQL}
                        SELECT {outbox.WEBHOOK_ID_SQL}, :ws, CAST(:acc AS text), 'account.status_changed',
                               jsonb_build_object('type', 'account.status_changed', 'data',
                                   jsonb_build_object('account_id', CAST(:acc AS text), 'n', CAST(:n AS int))),
                               now()"""
                    ),
                    {"ws": workspace, "acc": account_id, "n": n},
                )
        outbox.fan_out(session, datetime.now(UTC), 10_000)


def add_endpoint(sessions: sessionmaker[Session], workspace: str, url: str, secret: str) -> str:
    with sessions.begin() as session:
        return create_endpoint(
            session, CIPHER, workspace, url, (), secret=secret, allow_loopback_http=True
        ).endpoint.id


_parts: list[WebhookParts] = []


def server(deps: WorkerDeps, settings: Settings) -> EndpointServer:
    parts = build_parts(settings)
    _parts.append(parts)
    return EndpointServer(settings, deps.sessions, deps.cipher, parts)


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while _parts:
        _parts.pop().transport.close()


def test_every_event_arrives_signed_in_order_per_account_after_500s(
    fast_settings: Settings, session_factory: sessionmaker[Session], workspace: str, redis_client: object
) -> None:
    deps = build_deps(fast_settings, pool_size=4)
    secret = new_secret()
    # The first 5 requests get 500, then the receiver recovers.
    with running_receiver(lambda n: 500 if n < 5 else 204) as receiver:
        endpoint_id = add_endpoint(session_factory, workspace, receiver.url, secret)
        seed_events(session_factory, workspace, {"acc_a": 4, "acc_b": 4, "acc_c": 2})
        deadline = time.monotonic() + 15
        while len(receiver.accepted()) < 10 and time.monotonic() < deadline:
            server(deps, fast_settings).serve(endpoint_id, budget_seconds=2)
            time.sleep(0.05)
        payloads = receiver.verify(secret)
    deps.close()
    assert len(payloads) == 10
    assert len({p["_webhook_id"] for p in payloads}) == 10
    for account in ("acc_a", "acc_b", "acc_c"):
        seen = [p["data"]["n"] for p in payloads if p["data"]["account_id"] == account]
        assert seen == sorted(seen), (account, seen)
    # A retried event kept its webhook-id: the 500s' ids all arrived later too.
    failed_ids = {r.headers["webhook-id"] for r in receiver.snapshot() if r.status == 500}
    assert failed_ids and failed_ids <= {p["_webhook_id"] for p in payloads}
    with session_factory() as session:
        statuses = set(session.scalars(select(WebhookDelivery.status)))
        attempts = list_attempts(session, endpoint_id, 100)
    assert statuses == {"delivered"}
    assert {a.outcome for a in attempts} == {"delivered", "retry"}
    retried = [a for a in attempts if a.outcome == "retry"]
    assert all(a.status_code == 500 and a.next_attempt_at is not None for a in retried)
    assert all(a.latency_ms is not None for a in attempts)


def test_a_dead_endpoint_is_failed_after_the_window_then_disabled(
    fast_settings: Settings,
    session_factory: sessionmaker[Session],
    workspace: str,
    redis_client: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRAVO_WEBHOOK_RETRY_WINDOW_SECONDS", "1")
    monkeypatch.setenv("DRAVO_WEBHOOK_DISABLE_AFTER_FAILURES", "2")
    get_settings.cache_clear()
    settings = get_settings()
    deps = build_deps(settings, pool_size=4)
    with running_receiver(lambda n: 503) as receiver:
        endpoint_id = add_endpoint(session_factory, workspace, receiver.url, new_secret())
        seed_events(session_factory, workspace, {"acc_a": 2, "acc_b": 1, "acc_c": 1})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if server(deps, settings).serve(endpoint_id, budget_seconds=1).disabled:
                break
            time.sleep(0.1)
    deps.close()
    with session_factory() as session:
        [view] = list_endpoints(session, workspace)
        statuses = list(session.scalars(select(WebhookDelivery.status)))
    assert not view.enabled
    assert view.disabled_reason is not None and "HTTP 503" in view.disabled_reason
    assert statuses == ["failed"] * 4  # nothing left pending for a disabled endpoint


def test_delivery_time_check_refuses_a_target_that_now_resolves_inside(
    settings: Settings, session_factory: sessionmaker[Session], workspace: str, redis_client: object
) -> None:
    """Created while loopback was allowed; delivered by a worker where it is not (as after a DNS
    change to an internal address): refused at connect time, nothing is sent, and the delivery
    fails at once (retrying can't change a refusal), with the reason recorded."""
    deps = build_deps(settings, pool_size=4)
    with running_receiver() as receiver:
        endpoint_id = add_endpoint(
            session_factory, workspace, receiver.url.replace("http:", "https:"), new_secret()
        )
        seed_events(session_factory, workspace, {"acc_a": 1})
        report = server(deps, settings).serve(endpoint_id, budget_seconds=1)
        assert receiver.snapshot() == []
    deps.close()
    assert report.attempts == 1 and report.delivered == 0
    with session_factory() as session:
        [attempt] = list_attempts(session, endpoint_id)
    assert attempt.outcome == "failed" and attempt.next_attempt_at is None
    assert attempt.error is not None and "target refused" in attempt.error
    with session_factory() as session:
        assert list(session.scalars(select(WebhookDelivery.status))) == ["failed"]


def test_a_slow_endpoint_times_out_and_does_not_hold_another(
    fast_settings: Settings,
    session_factory: sessionmaker[Session],
    workspace: str,
    redis_client: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRAVO_WEBHOOK_TIMEOUT_SECONDS", "0.5")
    get_settings.cache_clear()
    settings = get_settings()
    deps = build_deps(settings, pool_size=4)
    with running_receiver(delay=3) as slow, running_receiver() as fast:
        slow_id = add_endpoint(session_factory, workspace, slow.url, new_secret())
        fast_id = add_endpoint(session_factory, workspace, fast.url, new_secret())
        seed_events(session_factory, workspace, {"acc_a": 1})
        started = time.monotonic()
        slow_report = server(deps, settings).serve(slow_id, budget_seconds=0.2)
        took = time.monotonic() - started
        fast_report = server(deps, settings).serve(fast_id, budget_seconds=1)
    deps.close()
    assert slow_report.delivered == 0 and took < 2.5
    assert fast_report.delivered == 1
    with session_factory() as session:
        [attempt] = list_attempts(session, slow_id)
    assert attempt.error is not None and attempt.error.startswith("timeout")


def test_sweep_fans_out_hands_out_at_most_the_cap_and_prunes(
    deps: WorkerDeps, session_factory: sessionmaker[Session], workspace: str, redis_client: object
) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from worker.webhooks.sweep import release, sweep

    capped = replace(
        deps,
        settings=deps.settings.model_copy(
            update={"webhook_max_active_endpoints": 2, "webhook_retention_seconds": 60}
        ),
    )
    endpoints = [
        add_endpoint(session_factory, workspace, f"http://127.0.0.1:9/{n}", new_secret()) for n in range(3)
    ]
    with session_factory.begin() as session:
        session.execute(
            text(
                f"""{outbox.INSERT_EVENT_SQL}
                SELECT {outbox.WEBHOOK_ID_SQL}, CAST(:ws AS text), 'acc_a', 'account.status_changed',
                       CAST('{{"type": "account.status_changed", "data": {{}}}}' AS jsonb), now()"""
            ),
            {"ws": workspace},
        )
    published: list[str] = []
    report = sweep(capped, published.append)
    assert (report.events, report.deliveries) == (1, 3)
    assert len(published) == 2  # the cap: two endpoints served at once
    assert sweep(capped, published.append).handed_out == 0  # both still active, no room
    release(capped, published[0])
    assert sweep(capped, published.append).handed_out == 1
    assert set(published) <= set(endpoints)

    # Nothing is pruned while deliveries wait; once all are finished and old enough, it goes.
    with session_factory.begin() as session:
        session.execute(text("UPDATE webhook_deliveries SET status = 'delivered'"))
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert sweep(capped, published.append, now=later).pruned == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
