"""Management writes can't be turned against other tenants: concurrent connects of one account
make one account, re-posted credentials don't re-sync, reconnect syncs spend the refresh window,
writes are rate limited per workspace, and one workspace's flood leaves the others their share."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import redis
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.asgi import create_app
from api.ratelimit import window_key
from models.base import utcnow
from models.tables import Account, AccountSync
from tests.integration.api.conftest import SettingsFactory
from tests.integration.api.server import serve
from tests.integration.api.test_management import BODY, Tenant


@pytest.fixture
def tenants(session_factory: sessionmaker[Session]) -> tuple[Tenant, Tenant]:
    return Tenant(session_factory, "flooder"), Tenant(session_factory, "neighbour")


@contextmanager
def _client(make_settings: SettingsFactory, **env: str) -> Iterator[httpx.Client]:
    with serve(create_app(make_settings(**env))) as base, httpx.Client(base_url=base, timeout=60) as http:
        yield http


@pytest.fixture
def patient_client(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[httpx.Client]:
    # Waits long enough that the race test measures the race, not this machine's load.
    with _client(make_settings, DRAVO_API_POOL_TIMEOUT_SECONDS="20") as http:
        yield http


def _next_sync(factory: sessionmaker[Session], account_id: str) -> object:
    with factory() as session:
        return session.scalar(select(AccountSync.next_sync_at).where(AccountSync.account_id == account_id))


def test_parallel_connects_of_one_new_account_make_one_account(
    patient_client: httpx.Client, tenants: tuple[Tenant, Tenant], session_factory: sessionmaker[Session]
) -> None:
    ours, _ = tenants
    with ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(lambda _: patient_client.post("/v1/accounts", json=BODY, headers=ours.manage), range(20))
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 19 + [201], [a.text for a in answers if a.status_code >= 300]
    assert len({a.json()["account_id"] for a in answers}) == 1
    with session_factory() as session:
        assert (
            session.scalar(select(func.count()).select_from(Account).where(Account.workspace_id == ours.id))
            == 1
        )


def test_reposting_the_same_credentials_keeps_the_schedule(
    patient_client: httpx.Client, tenants: tuple[Tenant, Tenant], session_factory: sessionmaker[Session]
) -> None:
    ours, _ = tenants
    account_id = patient_client.post("/v1/accounts", json=BODY, headers=ours.manage).json()["account_id"]
    later = utcnow() + timedelta(hours=3)
    with session_factory.begin() as session:
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == account_id)
            .values(next_sync_at=later, sync_status="synced")
        )
    for _ in range(5):
        again = patient_client.post("/v1/accounts", json=BODY, headers=ours.manage)
        assert again.status_code == 200 and again.json()["sync_status"] == "synced"
    assert _next_sync(session_factory, account_id) == later
    # A row waiting for a reconnect is synced again even with the same token (fixed on the
    # platform's side).
    with session_factory.begin() as session:
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == account_id)
            .values(next_sync_at=None, sync_status="requires_reconnect")
        )
    fixed = patient_client.post("/v1/accounts", json=BODY, headers=ours.manage)
    assert fixed.status_code == 200 and fixed.json()["sync_status"] == "pending"
    assert _next_sync(session_factory, account_id) <= utcnow()  # type: ignore[operator]
    with session_factory.begin() as session:
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == account_id)
            .values(next_sync_at=later, sync_status="synced")
        )
    # New credentials do re-sync, at once.
    changed = patient_client.post(
        "/v1/accounts", json={**BODY, "access_token": "IGQVJ-new-token"}, headers=ours.manage
    )
    assert changed.status_code == 200 and changed.json()["sync_status"] == "pending"
    due = _next_sync(session_factory, account_id)
    assert isinstance(due, type(later)) and due <= utcnow()


def test_reconnect_syncs_spend_the_workspace_refresh_window(
    make_settings: SettingsFactory,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    tenants: tuple[Tenant, Tenant],
) -> None:
    ours, theirs = tenants
    with _client(make_settings, DRAVO_REFRESH_ACCOUNTS_PER_MINUTE="2") as http:
        account_id = http.post("/v1/accounts", json=BODY, headers=ours.manage).json()["account_id"]
        # A new account and re-posted credentials spend nothing.
        http.post("/v1/accounts", json=BODY, headers=ours.manage)
        assert redis_client.zcard(window_key(ours.id)) == 0
        for i in range(2):
            body = {**BODY, "access_token": f"IGQVJ-rotated-{i}"}
            assert http.post("/v1/accounts", json=body, headers=ours.manage).status_code == 200
            assert _next_sync(session_factory, account_id) <= utcnow()  # type: ignore[operator]
        assert redis_client.zcard(window_key(ours.id)) == 2
        # The window is spent: the credentials are saved, the sync waits for the window.
        third = http.post(
            "/v1/accounts", json={**BODY, "access_token": "IGQVJ-rotated-3"}, headers=ours.manage
        )
        assert third.status_code == 200
        assert _next_sync(session_factory, account_id) > utcnow() + timedelta(seconds=30)  # type: ignore[operator]
        # ... and so does a refresh=true of the same workspace; another workspace is untouched.
        refreshed = http.get("/v1/analytics/accounts", params={"refresh": "true"}, headers=ours.read)
        assert refreshed.status_code == 429 and "retry-after" in refreshed.headers
        assert redis_client.zcard(window_key(theirs.id)) == 0


def test_management_writes_are_rate_limited_per_workspace(
    make_settings: SettingsFactory,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    tenants: tuple[Tenant, Tenant],
) -> None:
    ours, theirs = tenants
    with _client(make_settings, DRAVO_API_WRITES_PER_MINUTE="3") as http:
        for i in range(3):
            body = {**BODY, "platform_account_id": f"1784140000000010{i}"}
            assert http.post("/v1/accounts", json=body, headers=ours.manage).status_code == 201
        refused = http.post("/v1/webhooks", json={"url": "https://example.com/h"}, headers=ours.manage)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert http.delete("/v1/accounts/acc_whatever", headers=ours.manage).status_code == 429
        # Reads are not writes, and another workspace has its own window.
        assert http.get("/v1/webhooks", headers=ours.manage).status_code == 200
        assert http.post("/v1/accounts", json=BODY, headers=theirs.manage).status_code == 201


def test_a_flooding_workspace_leaves_others_their_share_of_the_writer_pool(
    make_settings: SettingsFactory,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    tenants: tuple[Tenant, Tenant],
) -> None:
    flooder, neighbour = tenants
    with _client(make_settings, DRAVO_API_WRITES_PER_MINUTE="100000") as http:

        def flood(i: int) -> int:
            body = {**BODY, "platform_account_id": f"1784149{i:010d}"}
            return http.post("/v1/accounts", json=body, headers=flooder.manage).status_code

        with ThreadPoolExecutor(80) as pool:
            flooding = [pool.submit(flood, i) for i in range(300)]
            time.sleep(0.5)  # the flood holds the pool
            latencies, statuses = [], []
            for i in range(8):
                body = {**BODY, "platform_account_id": f"1784150{i:010d}"}
                started = time.monotonic()
                response = http.post("/v1/accounts", json=body, headers=neighbour.manage)
                latencies.append(time.monotonic() - started)
                statuses.append(response.status_code)
                started = time.monotonic()
                listed = http.get("/v1/analytics/accounts", headers=neighbour.read)
                latencies.append(time.monotonic() - started)
                statuses.append(listed.status_code)
            flood_statuses = [f.result() for f in flooding]
    assert statuses == [201, 200] * 8, statuses
    assert max(latencies) < 2.0, latencies
    # The flood is slowed (429 past its share), never answered 503.
    assert set(flood_statuses) <= {201, 429} and 503 not in flood_statuses
