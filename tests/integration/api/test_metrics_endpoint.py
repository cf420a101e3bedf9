"""GET /metrics: the freshness gauges come from PostgreSQL, whatever process counted what."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from ops.metrics import record_sync
from tests.integration.api import seeding


def test_metrics_show_freshness_by_platform_and_status(
    client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
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

    response = client.get("/metrics")
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
