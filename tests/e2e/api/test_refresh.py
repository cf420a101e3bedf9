"""refresh=true end to end: `dravo-sync api`, a real worker, and the platform simulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.accounts import REFRESH_PENDING_WARNING
from ops.testing.processes import wait_until
from simulator.client import SimulatorClient
from tests.e2e.api.conftest import ApiStarter
from tests.integration.api import seeding
from tests.support.accounts import connect
from tests.support.fixtures import Processes

pytestmark = pytest.mark.e2e

URL = "/v1/analytics/accounts"
X_ID = "2244994945"
X_TOKEN = "x-access-token-for-refresh-tests"


def _connect_x(
    session_factory: sessionmaker[Session], simulator: SimulatorClient, **sim: object
) -> tuple[str, str]:
    ws = seeding.workspace(session_factory)
    simulator.upsert_account("x", X_ID, access_token=X_TOKEN, handle="dravo", **sim)  # type: ignore[arg-type]
    account_id = connect(session_factory, ws.id, "x", X_ID, X_TOKEN, handle="@dravo")
    return ws.api_key, account_id


def _get(base: str, key: str, account_id: str, refresh: bool) -> tuple[dict[str, object], float]:
    started = time.monotonic()
    response = httpx.get(
        f"{base}{URL}",
        params={"accountId": account_id, "refresh": str(refresh).lower()},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 1
    row: dict[str, object] = body["items"][0]
    return row, time.monotonic() - started


def test_fresh_row_when_the_platform_answers_in_time_then_no_second_call(
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    processes: Processes,
    session_factory: sessionmaker[Session],
    api_server: ApiStarter,
) -> None:
    key, account_id = _connect_x(session_factory, simulator)
    processes.worker()
    _, base = api_server({**e2e_env, "DRAVO_REFRESH_WAIT_SECONDS": "10"})

    cached, _ = _get(base, key, account_id, refresh=False)
    assert cached["sync_status"] == "pending" and cached["metrics"] == {}
    assert simulator.total_requests("x", X_ID) == 0

    before = datetime.now(UTC).replace(microsecond=0)
    fresh, elapsed = _get(base, key, account_id, refresh=True)
    assert elapsed < 10
    assert fresh["sync_status"] == "synced", fresh
    assert fresh["warnings"] == []
    metrics = fresh["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["followers_count"] == simulator.account("x", X_ID)["counters"]["followers_count"]
    assert isinstance(fresh["last_updated_at"], str)
    assert datetime.fromisoformat(fresh["last_updated_at"].replace("Z", "+00:00")) >= before
    calls = simulator.total_requests("x", X_ID)
    assert calls >= 1

    # Read a moment ago: the second refresh is answered from the cache without a platform call.
    again, _ = _get(base, key, account_id, refresh=True)
    assert again == fresh
    assert simulator.total_requests("x", X_ID) == calls


def test_cached_row_and_warning_when_the_platform_is_slow(
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    processes: Processes,
    session_factory: sessionmaker[Session],
    api_server: ApiStarter,
) -> None:
    key, account_id = _connect_x(session_factory, simulator, scenario="slow", params={"latency_ms": 4000})
    processes.worker()
    _, base = api_server({**e2e_env, "DRAVO_REFRESH_WAIT_SECONDS": "1"})

    row, elapsed = _get(base, key, account_id, refresh=True)
    assert elapsed < 4, "the endpoint must not wait for a slow platform past its wait"
    assert row["sync_status"] == "pending"
    assert row["metrics"] == {}
    assert row["warnings"] == [REFRESH_PENDING_WARNING]

    # The refresh goes on in the worker and lands in the cache.
    def synced() -> bool:
        return _get(base, key, account_id, refresh=False)[0]["sync_status"] == "synced"

    wait_until(synced, 20, 0.5, "the slow refresh to land")
