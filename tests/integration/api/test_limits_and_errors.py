"""Every wait has a limit (503 in the one shape), a cap on header size, a catch-all 500, and JWT
checks through the real API (docs/api.md, "Every wait has a limit" and "Errors")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from api.asgi import create_app
from tests.integration.api import seeding
from tests.integration.api.conftest import SettingsFactory, bearer
from tests.integration.api.server import serve

URL = "/v1/analytics/accounts"
UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "Missing or invalid API key / JWT."}}
PREVIOUS_SECRET = "the-previous-dashboard-secret-long-enough-0123456789"


def test_a_locked_table_answers_503_within_the_lock_timeout(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    settings = make_settings(DRAVO_API_LOCK_TIMEOUT_SECONDS="0.5", DRAVO_API_STATEMENT_TIMEOUT_SECONDS="5")
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get(URL, headers=bearer(ws.api_key)).status_code == 200
        with engine.connect() as conn:  # another client holds the lock in an open transaction
            conn.execute(text("LOCK TABLE account_sync IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            locked = http.get(URL, headers=bearer(ws.api_key))
            elapsed = time.monotonic() - started
            conn.rollback()
        assert locked.status_code == 503, locked.text
        assert locked.json() == {
            "error": {
                "code": "service_unavailable",
                "message": "The database did not answer in time; try again shortly.",
            }
        }
        assert 0.4 < elapsed < 2.0
        # The lock gone, the same connections serve again.
        assert http.get(URL, headers=bearer(ws.api_key)).status_code == 200


def test_a_slow_statement_answers_503_within_the_statement_timeout(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    settings = make_settings(DRAVO_API_STATEMENT_TIMEOUT_SECONDS="0.5", DRAVO_API_LOCK_TIMEOUT_SECONDS="30")
    with (
        serve(create_app(settings)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
        engine.connect() as conn,
    ):
        conn.execute(text("LOCK TABLE account_sync IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        locked = http.get(URL, headers=bearer(ws.api_key))
        elapsed = time.monotonic() - started
        conn.rollback()
    assert locked.status_code == 503
    assert locked.json()["error"]["code"] == "service_unavailable"
    assert 0.4 < elapsed < 2.0


def test_waiting_for_a_pooled_connection_is_bounded(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    settings = make_settings(
        DRAVO_API_LOCK_TIMEOUT_SECONDS="3",
        DRAVO_API_POOL_TIMEOUT_SECONDS="0.3",
        DRAVO_REFRESH_WAIT_SECONDS="0",
    )
    with (
        serve(create_app(settings)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
        httpx.Client(base_url=base, timeout=30) as other,
        engine.connect() as conn,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        conn.execute(text("LOCK TABLE account_sync IN ACCESS EXCLUSIVE MODE"))
        # Fill every pooled connection with a list waiting on the lock, then ask once more.
        waiting = [pool.submit(other.get, URL, headers=bearer(ws.api_key)) for _ in range(8)]
        time.sleep(0.5)
        started = time.monotonic()
        refused = http.get(URL, headers=bearer(ws.api_key))
        elapsed = time.monotonic() - started
        conn.rollback()
        assert all(w.result().status_code == 200 for w in waiting)  # served once the lock went
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert elapsed < 1.5


@pytest.fixture
def small_headers_client(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[httpx.Client]:
    settings = make_settings(DRAVO_API_MAX_HEADER_BYTES="4096")
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http


def test_oversized_headers_are_refused_in_the_error_shape(small_headers_client: httpx.Client) -> None:
    big = small_headers_client.get(URL, headers={"X-Padding": "a" * 5000, **bearer("dra_" + "a" * 43)})
    assert big.status_code == 431
    assert big.json()["error"]["code"] == "request_header_too_large"
    many = small_headers_client.get("/healthz", headers={f"X-H{i}": "b" * 100 for i in range(50)})
    assert many.status_code == 431
    assert small_headers_client.get("/healthz", headers={"X-Padding": "a" * 1000}).status_code == 200


def test_an_unexpected_error_is_a_500_in_the_error_shape(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    app = create_app(make_settings())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail that must not reach the client")

    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        response = http.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Internal error; the service operator has been alerted.",
        }
    }
    assert "secret detail" not in response.text and "Traceback" not in response.text


@pytest.fixture
def jwt_client(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[httpx.Client]:
    settings = make_settings(
        DRAVO_JWT_PREVIOUS_SECRET=PREVIOUS_SECRET,
        DRAVO_JWT_AUDIENCE="dravo-api",
        DRAVO_JWT_ISSUER="https://dashboard.example",
        DRAVO_JWT_MAX_TTL_SECONDS="3600",
    )
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http


def test_jwt_rules_through_the_api(jwt_client: httpx.Client, session_factory: sessionmaker[Session]) -> None:
    ws = seeding.workspace(session_factory)
    now = int(time.time())
    good = {"workspace_id": ws.id, "aud": "dravo-api", "iss": "https://dashboard.example", "exp": now + 600}

    def status(claims: dict[str, object], secret: str = seeding.JWT_SECRET) -> int:
        response = jwt_client.get(URL, headers=bearer(seeding.make_jwt(claims, secret)))
        if response.status_code == 401:
            assert response.json() == UNAUTHORIZED
        return response.status_code

    assert status(good) == 200
    assert status(good, PREVIOUS_SECRET) == 200  # rotation
    assert status({**good, "exp": now - 10}) == 200  # clock skew
    assert status({**good, "nbf": now + 10, "iat": now + 10}) == 200
    assert status({**good, "exp": now - 60}) == 401
    assert status({**good, "aud": "someone-else"}) == 401
    assert status({**good, "iss": "https://evil.example"}) == 401
    assert status({**good, "exp": now + 7200}) == 401  # beyond DRAVO_JWT_MAX_TTL_SECONDS
    for workspace_id in (7, ["ws_1"], {"a": 1}, "ws_" + "x" * 5000, "ws_\x00", "' OR 1=1 --", None):
        assert status({**good, "workspace_id": workspace_id}) == 401, workspace_id
