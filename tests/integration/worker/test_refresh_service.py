"""RefreshService without a worker: skipping, single flight, bounded waits, Redis outages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from models.tables import AccountSync
from ops.settings import Settings
from tests.support.accounts import connect
from worker.names import REFRESH_QUEUE, refresh_lock_key
from worker.refresh import RefreshService, RefreshUnavailable, build_refresh_service


@pytest.fixture
def service(settings: Settings, engine: Engine, redis_client: redis.Redis) -> Iterator[RefreshService]:
    built = build_refresh_service(settings, engine, redis_client)
    yield built
    built.close()


def test_refreshes_are_enqueued_once_and_the_wait_is_bounded(
    service: RefreshService, session_factory: sessionmaker[Session], workspace: str, redis_client: redis.Redis
) -> None:
    account_id = connect(session_factory, workspace, "tiktok", "open-1", "token")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: service.refresh([account_id, "acc_unknown"], 0.5), range(10)))
    assert time.monotonic() - started < 3
    for result in results:  # no worker: still pending; unknown ids are ignored
        assert result.pending == {account_id} and not result.finished and not result.skipped_recent
    assert redis_client.llen(REFRESH_QUEUE) == 1
    assert redis_client.pttl(refresh_lock_key(account_id)) > 0


def test_recent_and_reconnect_rows_are_not_asked_again(
    service: RefreshService, session_factory: sessionmaker[Session], workspace: str, redis_client: redis.Redis
) -> None:
    recent = connect(session_factory, workspace, "x", "1", "token")
    waiting = connect(session_factory, workspace, "x", "2", "token")
    with session_factory.begin() as session:
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == recent)
            .values(last_attempt_at=datetime.now(UTC))
        )
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == waiting)
            .values(sync_status="requires_reconnect", next_sync_at=None)
        )
    result = service.refresh([recent, waiting], 5)
    assert result.skipped_recent == {recent, waiting} and not result.pending
    assert redis_client.llen(REFRESH_QUEUE) == 0


def test_a_completion_written_during_the_wait_is_seen(
    service: RefreshService, session_factory: sessionmaker[Session], workspace: str
) -> None:
    account_id = connect(session_factory, workspace, "x", "3", "token")

    def finish_later() -> None:
        time.sleep(0.3)
        with session_factory.begin() as session:  # what a worker's write looks like, minus pub/sub
            session.execute(
                update(AccountSync)
                .where(AccountSync.account_id == account_id)
                .values(last_attempt_at=datetime.now(UTC), sync_status="synced")
            )

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(finish_later)
        result = service.refresh([account_id], 5)
    assert result.finished == {account_id}


def test_redis_down_is_a_typed_error_not_a_hang(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], workspace: str
) -> None:
    account_id = connect(session_factory, workspace, "x", "4", "token")
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    service = build_refresh_service(settings, engine, dead)
    try:
        started = time.monotonic()
        with pytest.raises(RefreshUnavailable, match="Redis unavailable"):
            service.refresh([account_id], 0.5)
        assert time.monotonic() - started < 0.5 + 1.0 + 0.5  # the wait + enqueue slack + jitter
    finally:
        service.close()


def test_broker_down_releases_the_marker(
    settings: Settings,
    engine: Engine,
    redis_client: redis.Redis,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    account_id = connect(session_factory, workspace, "x", "5", "token")
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    service = build_refresh_service(broken, engine, redis_client)
    started = time.monotonic()
    try:
        with pytest.raises(RefreshUnavailable, match="broker unavailable"):
            service.refresh([account_id], 10)
    finally:
        service.close()
    assert time.monotonic() - started < 8
    assert not redis_client.exists(refresh_lock_key(account_id))
