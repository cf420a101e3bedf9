"""refresh=true without a worker (cached rows + warning), its rate limit, and outages (503)."""

from __future__ import annotations

import time

import httpx
import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from api.accounts import REFRESH_PENDING_WARNING
from api.app import create_app
from api.errors import RateLimited
from api.ratelimit import check_refresh_rate
from tests.integration.api import seeding
from tests.integration.api.conftest import SettingsFactory, bearer
from tests.integration.api.server import serve

URL = "/v1/analytics/accounts"
NOWHERE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/dravo"
NOWHERE_REDIS = "redis://127.0.0.1:1/0"


def test_refresh_with_no_worker_returns_cached_rows_with_a_warning(
    client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    cached = client.get(URL, headers=bearer(ws.api_key)).json()
    refreshed = client.get(URL, params={"refresh": "true"}, headers=bearer(ws.api_key)).json()
    assert refreshed["total"] == 2
    for before, after in zip(cached["items"], refreshed["items"], strict=True):
        assert after == {**before, "warnings": [*before["warnings"], REFRESH_PENDING_WARNING]}


def test_refresh_rate_limit_per_workspace(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    a = seeding.workspace(session_factory, "a")
    b = seeding.workspace(session_factory, "b")
    settings = make_settings(DRAVO_REFRESH_REQUESTS_PER_MINUTE="2")
    if time.time() % 60 > 55:  # keep the three requests inside one window
        time.sleep(60 - time.time() % 60 + 0.1)
    with serve(create_app(settings)) as base, httpx.Client(base_url=base) as http:
        refresh = {"refresh": "true"}
        assert http.get(URL, params=refresh, headers=bearer(a.api_key)).status_code == 200
        assert http.get(URL, params=refresh, headers=bearer(a.api_key)).status_code == 200
        limited = http.get(URL, params=refresh, headers=bearer(a.api_key))
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Reads without refresh, and other workspaces, are not limited.
        assert http.get(URL, headers=bearer(a.api_key)).status_code == 200
        assert http.get(URL, params=refresh, headers=bearer(b.api_key)).status_code == 200


def test_rate_limit_window_and_retry_after(redis_client: redis.Redis) -> None:
    start = 60 * 16_667 + 20.0  # 20 s into a window
    for _ in range(3):
        check_refresh_rate(redis_client, "ws_a", 3, now=start)
    with pytest.raises(RateLimited) as caught:
        check_refresh_rate(redis_client, "ws_a", 3, now=start + 10)
    assert caught.value.headers["Retry-After"] == "30"
    check_refresh_rate(redis_client, "ws_a", 3, now=start + 40)  # the next window


def test_database_down_is_503(make_settings: SettingsFactory, redis_client: redis.Redis) -> None:
    settings = make_settings(DATABASE_URL=NOWHERE_DB)
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        for path in (URL, f"{URL}?refresh=true", f"{URL}/acc_1/history"):
            response = http.get(path, headers=bearer("dra_" + "a" * 43))
            assert response.status_code == 503, path
            assert response.json()["error"]["code"] == "service_unavailable"
        assert http.get("/healthz").status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 503 and "postgres" in ready.json()["error"]["message"]


def test_redis_down_is_503_only_where_redis_is_needed(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    settings = make_settings(REDIS_URL=NOWHERE_REDIS)
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get(URL, headers=bearer(ws.api_key)).status_code == 200
        refreshed = http.get(URL, params={"refresh": "true"}, headers=bearer(ws.api_key))
        assert refreshed.status_code == 503
        assert refreshed.json()["error"]["code"] == "service_unavailable"
        ready = http.get("/readyz")
        assert ready.status_code == 503 and "redis" in ready.json()["error"]["message"]
