"""RefreshService without a worker: skipping, single flight, bounded waits, Redis outages.

The service is asyncio-native (the API awaits it); each test runs its scenario on a fresh loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
import redis
import redis.asyncio as aredis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.readpool import ReadConnections, make_read_pool
from models.tables import AccountSync
from ops.foundation.settings import Settings
from tests.support.accounts import connect
from worker.names import REFRESH_QUEUE, refresh_lock_key
from worker.refresh import RefreshResult, RefreshService, RefreshUnavailable, build_refresh_service

T = TypeVar("T")


def run(
    settings: Settings,
    sync_redis: redis.Redis,
    scenario: Callable[[RefreshService], Awaitable[T]],
    async_url: str | None = None,
) -> T:
    """`scenario(service)` on a new event loop, with a service built on that loop."""

    async def main() -> T:
        pool = make_read_pool(
            settings.database_url, 4, options="-c default_transaction_read_only=on", timeout=30, name="test"
        )
        await pool.open()
        rows = ReadConnections(pool)
        client = aredis.Redis.from_url(
            async_url or settings.redis_url, socket_connect_timeout=0.2, socket_timeout=0.2
        )
        service = build_refresh_service(settings, rows, sync_redis, client)
        try:
            return await scenario(service)
        finally:
            await service.aclose()
            await client.aclose()
            await pool.close()

    return asyncio.run(main())


def test_refreshes_are_enqueued_once_and_the_wait_is_bounded(
    settings: Settings, session_factory: sessionmaker[Session], workspace: str, redis_client: redis.Redis
) -> None:
    account_id = connect(session_factory, workspace, "tiktok", "open-1", "token")
    started = time.monotonic()

    async def scenario(service: RefreshService) -> list[RefreshResult]:
        return list(
            await asyncio.gather(*(service.refresh([account_id, "acc_unknown"], 0.5) for _ in range(10)))
        )

    results = run(settings, redis_client, scenario)
    assert time.monotonic() - started < 3
    for result in results:  # no worker: still pending; unknown ids are ignored
        assert result.pending == {account_id} and not result.finished and not result.skipped_recent
    assert redis_client.llen(REFRESH_QUEUE) == 1
    assert redis_client.pttl(refresh_lock_key(account_id)) > 0


def test_recent_and_reconnect_rows_are_not_asked_again(
    settings: Settings, session_factory: sessionmaker[Session], workspace: str, redis_client: redis.Redis
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
    result = run(settings, redis_client, lambda service: service.refresh([recent, waiting], 5))
    assert result.skipped_recent == {recent, waiting} and not result.pending
    assert redis_client.llen(REFRESH_QUEUE) == 0


def test_a_completion_written_during_the_wait_is_seen(
    settings: Settings, session_factory: sessionmaker[Session], workspace: str, redis_client: redis.Redis
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

    async def scenario(service: RefreshService) -> RefreshResult:
        waiting = asyncio.create_task(service.refresh([account_id], 5))
        await asyncio.to_thread(finish_later)
        return await waiting

    result = run(settings, redis_client, scenario)
    assert result.finished == {account_id}


def test_redis_down_is_a_typed_error_not_a_hang(
    settings: Settings, session_factory: sessionmaker[Session], workspace: str
) -> None:
    account_id = connect(session_factory, workspace, "x", "4", "token")
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(RefreshUnavailable, match="Redis unavailable"):
        run(settings, dead, lambda service: service.refresh([account_id], 0.5), "redis://127.0.0.1:1/0")
    # The listener's start + the wait + enqueue slack + jitter.
    assert time.monotonic() - started < 1.0 + 0.5 + 1.0 + 0.5


def test_broker_down_releases_the_marker(
    settings: Settings,
    redis_client: redis.Redis,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    account_id = connect(session_factory, workspace, "x", "5", "token")
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    started = time.monotonic()
    with pytest.raises(RefreshUnavailable, match="broker unavailable"):
        run(broken, redis_client, lambda service: service.refresh([account_id], 10), settings.redis_url)
    assert time.monotonic() - started < 8
    assert not redis_client.exists(refresh_lock_key(account_id))
