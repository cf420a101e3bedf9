"""GET /metrics: operator only (a bearer token), the freshness gauges come from PostgreSQL whatever
process counted what, computed in the background so that a scrape runs no query."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from api.asgi import create_app
from models.base import utcnow
from ops.foundation.metrics import record_sync
from tests.integration.api import seeding
from tests.integration.api.conftest import SettingsFactory, bearer
from tests.integration.api.server import serve

TOKEN = "metrics-token-for-the-tests-0123"


@pytest.fixture
def metrics_client(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[httpx.Client]:
    settings = make_settings(DRAVO_METRICS_TOKEN=TOKEN, DRAVO_METRICS_INTERVAL_SECONDS="0.2")
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http


def _scrape(http: httpx.Client, until: str) -> httpx.Response:
    deadline = time.monotonic() + 5
    while True:
        response = http.get("/metrics", headers=bearer(TOKEN))
        if until in response.text or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_metrics_show_freshness_by_platform_and_status(
    metrics_client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    client = metrics_client
    ws = seeding.workspace(session_factory)
    now = utcnow()
    seeding.account(
        session_factory, ws.id, "acc_fresh", "x", created_at=now, stale_after=now + timedelta(hours=5)
    )
    seeding.account(
        session_factory, ws.id, "acc_stale", "x", created_at=now, stale_after=now - timedelta(minutes=1)
    )
    seeding.account(session_factory, ws.id, "acc_new", "tiktok", created_at=now, sync_status="pending")
    record_sync("x", "sync.rate_limited", calls=1, seconds=0.2)

    response = _scrape(client, 'dravo_accounts{platform="tiktok",sync_status="pending"} 1.0')
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'dravo_accounts{platform="x",sync_status="synced"} 2.0' in text
    assert 'dravo_accounts{platform="tiktok",sync_status="pending"} 1.0' in text
    assert 'dravo_accounts_stale{platform="x"} 1.0' in text
    assert 'dravo_accounts_stale{platform="tiktok"} 1.0' in text
    assert 'dravo_queue_depth{queue="refresh"}' in text
    assert "dravo_freshness_scrape_ok 1.0" in text
    assert 'dravo_rate_limit_deferrals_total{platform="x"}' in text
    assert "access_token" not in text


def test_metrics_need_the_token(metrics_client: httpx.Client) -> None:
    for headers in ({}, bearer("wrong-token-of-the-same-length"), {"Authorization": f"Basic {TOKEN}"}):
        response = metrics_client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert "dravo_" not in response.text


def test_without_a_token_there_is_no_metrics_route(client: httpx.Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_a_scrape_runs_no_query(metrics_client: httpx.Client, engine: Engine) -> None:
    _scrape(metrics_client, "dravo_freshness_scrape_ok 1.0")
    # With account_sync locked, a query at scrape time would wait for the lock; the scrapes don't.
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE account_sync IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        for _ in range(20):
            response = metrics_client.get("/metrics", headers=bearer(TOKEN))
            assert response.status_code == 200
            assert "dravo_accounts" in response.text  # the last values computed, not an error
        elapsed = time.monotonic() - started
        conn.rollback()
    assert elapsed < 1.0
