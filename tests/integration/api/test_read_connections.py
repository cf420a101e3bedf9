"""The read side's seam on a real Postgres: `models.queries`' async reads run on a connection the
caller lends, and `api.readpool.ReadConnections` lends the read pool's (read-only, bounded, one
retry on a dead connection)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.readpool import PoolTimeout, ReadConnections, make_read_pool
from api.state import session_options
from models import queries
from models.connections import connection_record, get_connection
from models.crypto import TokenCipher
from models.read_models import AccountFilter
from models.tables import AccountSync
from ops.foundation.settings import Settings
from tests.integration.api import seeding
from tests.integration.api.conftest import SettingsFactory

NOW = seeding.SEED_TIME + timedelta(hours=1)
T = TypeVar("T")


def with_pool(settings: Settings, scenario: Callable[[ReadConnections], Awaitable[T]], **lender: Any) -> T:
    """`scenario` on a new event loop with a lender of a read pool of 2, as the API builds it."""

    async def main() -> T:
        pool = make_read_pool(
            settings.api_read_url, 2, options=session_options(settings), timeout=2.0, name="test-read"
        )
        await pool.open()
        try:
            return await scenario(ReadConnections(pool, **lender))
        finally:
            await pool.close()

    return asyncio.run(main())


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


def test_async_reads_match_the_sync_ones(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    ours = seeding.workspace(session_factory, "ours")
    theirs = seeding.workspace(session_factory, "theirs")
    seeding.seed_example(session_factory, ours.id)
    seeding.account(session_factory, ours.id, "acc_a", "x", created_at=NOW)
    for day in range(5):
        seeding.snapshot(session_factory, "acc_a", NOW + timedelta(days=day), {"followers_count": day})

    async def scenario(reads: ReadConnections) -> None:
        page = await reads.run(lambda conn: queries.account_page(conn, ours.id, AccountFilter(), NOW))
        with session_factory() as session:
            assert page.body == queries.account_page_json(session, ours.id, AccountFilter(), NOW)
            expected = queries.snapshot_page(session, ours.id, "acc_a", limit=2)
        history = await reads.run(lambda conn: queries.history_page(conn, ours.id, "acc_a", limit=2))
        assert history == expected
        assert history is not None and history.next_after is not None
        assert await reads.run(lambda conn: queries.history_page(conn, theirs.id, "acc_a")) is None
        assert await reads.run(lambda conn: queries.history_page(conn, ours.id, "acc_\x00")) is None

    with_pool(settings, scenario)


def test_the_connection_record_on_a_lent_connection(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    other = seeding.workspace(session_factory, "other")
    seeding.seed_example(session_factory, ws.id)
    cipher = TokenCipher(settings.encryption_keys)

    async def scenario(reads: ReadConnections) -> None:
        record = await reads.run(lambda conn: connection_record(conn, cipher, ws.id, "acc_8f2c1d"))
        with session_factory() as session:
            assert record == get_connection(session, cipher, ws.id, "acc_8f2c1d")
        assert record is not None and record.platform == "x" and record.scopes is None  # not a real token
        assert await reads.run(lambda conn: connection_record(conn, cipher, other.id, "acc_8f2c1d")) is None
        assert await reads.run(lambda conn: connection_record(conn, cipher, ws.id, "acc_\x00")) is None

    with_pool(settings, scenario)


def test_refresh_reads_on_a_lent_connection(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.account(session_factory, ws.id, "acc_a", "x", created_at=NOW)
    seeding.account(session_factory, ws.id, "acc_b", "tiktok", created_at=NOW)
    with session_factory.begin() as session:
        session.execute(
            update(AccountSync).where(AccountSync.account_id == "acc_a").values(last_attempt_at=NOW)
        )

    async def scenario(reads: ReadConnections) -> None:
        ids = ["acc_a", "acc_b", "acc_unknown"]
        states = await reads.run(lambda conn: queries.refresh_states(conn, ids))
        assert sorted(states) == ["acc_a", "acc_b"]
        assert (states["acc_a"].platform, states["acc_a"].last_attempt_at) == ("x", NOW)
        assert states["acc_b"].last_attempt_at is None
        assert await reads.run(lambda conn: queries.attempted_since(conn, ids, NOW)) == {"acc_a"}
        later = NOW + timedelta(seconds=1)
        assert await reads.run(lambda conn: queries.attempted_since(conn, ids, later)) == set()

    with_pool(settings, scenario)


def test_lent_connections_are_read_only(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    async def write(conn: queries.AsyncReader) -> None:
        await conn.execute("CREATE TEMPORARY TABLE scratch (x int)")

    async def scenario(reads: ReadConnections) -> None:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            await reads.run(write)

    with_pool(settings, scenario)


def test_a_read_on_a_dead_connection_is_retried_once(
    settings: Settings, session_factory: sessionmaker[Session], database_url: str
) -> None:
    async def pid(conn: queries.AsyncReader) -> int:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        return int(row[0])

    async def scenario(reads: ReadConnections) -> tuple[int, int]:
        first = await reads.run(pid)  # now idle in the pool
        # As a Postgres restart does to every idle connection.
        with psycopg.connect(
            make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        return first, await reads.run(pid)

    first, second = with_pool(settings, scenario)
    assert second != first


def test_the_refresh_share_waits_a_bounded_time(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    async def hold(conn: queries.AsyncReader) -> None:
        await conn.execute("SELECT pg_sleep(1)")

    async def quick(conn: queries.AsyncReader) -> int:
        row = await (await conn.execute("SELECT 1")).fetchone()
        assert row is not None
        return int(row[0])

    async def scenario(reads: ReadConnections) -> None:
        held = asyncio.create_task(reads.run(hold))
        await asyncio.sleep(0.2)
        with pytest.raises(PoolTimeout):
            await reads.run(quick)  # the share (1) is taken, though the pool has a connection free
        await held

    with_pool(settings, scenario, limit=1, wait_timeout=0.3)
