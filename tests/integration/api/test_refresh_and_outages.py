"""refresh=true without a worker (cached rows + warning), its per-workspace limits, the deferred
and budget cases that make no platform call, and outages (503)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
import redis
import redis.asyncio as aredis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.accounts import (
    REFRESH_BUDGET_WARNING,
    REFRESH_HELD_WARNING,
    REFRESH_LIMITED_WARNING,
    REFRESH_PENDING_WARNING,
)
from api.asgi import create_app
from api.errors import TooManyRequests
from api.ratelimit import admit_accounts
from models.tables import AccountSync
from tests.conftest import redis_url
from tests.integration.api import seeding
from tests.integration.api.conftest import SettingsFactory, bearer
from tests.integration.api.server import serve
from worker.names import REFRESH_QUEUE, refresh_lock_key
from worker.outage import hold_key

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


def _refresh(http: httpx.Client, key: str) -> httpx.Response:
    return http.get(URL, params={"refresh": "true"}, headers=bearer(key))


def test_concurrent_refreshes_are_capped_per_workspace(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    a = seeding.workspace(session_factory, "a")
    b = seeding.workspace(session_factory, "b")
    seeding.seed_example(session_factory, a.id)
    # No worker: each admitted refresh waits its whole 2 s, holding its slot.
    settings = make_settings(DRAVO_REFRESH_CONCURRENT_PER_WORKSPACE="2", DRAVO_REFRESH_WAIT_SECONDS="2")
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        with ThreadPoolExecutor(max_workers=3) as pool:
            waits = [pool.submit(_refresh, http, a.api_key) for _ in range(2)]
            time.sleep(0.5)  # both hold their slots now
            limited = _refresh(http, a.api_key)
            other = _refresh(http, b.api_key)  # another workspace has its own slots
            started = time.monotonic()
            plain = http.get(URL, headers=bearer(a.api_key))  # reads without refresh are not limited
            plain_seconds = time.monotonic() - started
            statuses = [w.result().status_code for w in waits]
        assert statuses == [200, 200]
        assert limited.status_code == 429, limited.text
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 3
        assert other.status_code == 200
        assert plain.status_code == 200 and plain_seconds < 1
        # The slots are given back: the workspace may refresh again.
        assert _refresh(http, a.api_key).status_code == 200


def test_refreshes_are_limited_by_accounts_per_minute(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    a = seeding.workspace(session_factory, "a")
    seeding.seed_example(session_factory, a.id)  # two accounts, neither read recently
    settings = make_settings(DRAVO_REFRESH_ACCOUNTS_PER_MINUTE="1")
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        first = _refresh(http, a.api_key)
        assert first.status_code == 200
        warnings = sorted(
            w for item in first.json()["items"] for w in item["warnings"] if "showing cached" in w
        )
        # The older account went to the platforms, the other is over the limit.
        assert warnings == [REFRESH_LIMITED_WARNING, REFRESH_PENDING_WARNING]
        assert redis_client.llen(REFRESH_QUEUE) == 1
        limited = _refresh(http, a.api_key)
        assert limited.status_code == 429
        assert 50 <= int(limited.headers["retry-after"]) <= 60
        assert "accounts" in limited.json()["error"]["message"]


def test_the_accounts_window_slides(redis_client: redis.Redis) -> None:
    start = 1_800_000_000.0

    async def scenario() -> None:
        client = aredis.Redis.from_url(redis_url())
        try:
            assert await admit_accounts(client, "ws_a", ["1", "2"], 3, now=start) == ["1", "2"]
            assert await admit_accounts(client, "ws_a", ["3", "4"], 3, now=start + 30) == ["3"]
            with pytest.raises(TooManyRequests) as caught:
                await admit_accounts(client, "ws_a", ["5"], 3, now=start + 40)
            # The two accounts of `start` leave the window at start + 60, not at a minute boundary.
            assert caught.value.headers["Retry-After"] == "20"
            assert await admit_accounts(client, "ws_a", ["5", "6", "7"], 3, now=start + 61) == ["5", "6"]
            with pytest.raises(TooManyRequests):
                await admit_accounts(client, "ws_a", ["8"], 3, now=start + 89)
            assert await admit_accounts(client, "ws_b", ["1"], 3, now=start + 89) == ["1"]
            assert await admit_accounts(client, "ws_a", [], 3, now=start + 89) == []  # costs nothing
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_a_deferred_account_is_answered_from_the_cache_with_its_deferral(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    ws = seeding.workspace(session_factory)
    x, facebook = seeding.seed_example(session_factory, ws.id)
    note = "X user rate limit reached; next attempt after 2099-01-01T00:00:00Z"
    with session_factory.begin() as session:
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == x)
            .values(deferred_note=note, next_sync_at=datetime(2099, 1, 1, tzinfo=UTC))
        )
    with serve(create_app(make_settings())) as base, httpx.Client(base_url=base, timeout=30) as http:
        body = _refresh(http, ws.api_key).json()
    rows = {item["account_id"]: item for item in body["items"]}
    assert note in rows[x]["warnings"] and REFRESH_PENDING_WARNING not in rows[x]["warnings"]
    assert REFRESH_PENDING_WARNING in rows[facebook]["warnings"]
    # Only the other account was sent to the worker: the deferred one costs no platform call.
    assert redis_client.llen(REFRESH_QUEUE) == 1
    assert redis_client.exists(refresh_lock_key(facebook)) and not redis_client.exists(refresh_lock_key(x))


def test_a_refresh_never_spends_the_scheduled_reserve(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    settings = make_settings(DRAVO_SCHEDULED_BUDGET_RESERVE_PERCENT="100")
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        response = _refresh(http, ws.api_key)
    assert response.status_code == 200
    for item in response.json()["items"]:
        assert REFRESH_BUDGET_WARNING in item["warnings"]
    assert redis_client.llen(REFRESH_QUEUE) == 0


def test_a_refresh_of_a_held_platform_says_so_and_costs_no_call(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    ws = seeding.workspace(session_factory)
    x, facebook = seeding.seed_example(session_factory, ws.id)
    seconds, micros = redis_client.time()
    # X held for an outage (worker.outage) for another minute, on Redis' clock.
    redis_client.set(hold_key("x"), str(seconds * 1000 + micros // 1000 + 60_000), px=60_000)
    with serve(create_app(make_settings())) as base, httpx.Client(base_url=base, timeout=30) as http:
        body = _refresh(http, ws.api_key).json()
    rows = {item["account_id"]: item for item in body["items"]}
    assert REFRESH_HELD_WARNING.format(platform="X") in rows[x]["warnings"]
    assert REFRESH_BUDGET_WARNING not in rows[x]["warnings"]
    assert REFRESH_PENDING_WARNING in rows[facebook]["warnings"]
    assert redis_client.llen(REFRESH_QUEUE) == 1  # only Facebook's refresh was sent
    assert not redis_client.exists(refresh_lock_key(x))


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
