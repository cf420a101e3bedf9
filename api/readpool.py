"""The API's hot-path reads: psycopg's async connections, awaited on the event loop.

A read of `GET /v1/analytics/accounts` (the key lookup, then the page) is one statement each; run
in a thread, each would pay a thread hand-off that costs more CPU than the statement's own Python
work. Connections are autocommit (no BEGIN/ROLLBACK round trips) with
`default_transaction_read_only`, so Postgres refuses writes on them; psycopg prepares a statement
on a connection after a few runs, so Postgres stops planning it.

The pool is deliberately small and simple: it opens a connection when none is idle (so an outage
fails the request at once, as a 503, instead of waiting for a background reconnect), keeps at most
`size` of them, and drops one that fails. A statement that fails on a connection which had been
idle in the pool (Postgres restarted meanwhile) is retried once on a new connection.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_SECONDS = 5


@functools.lru_cache(maxsize=64)
def to_psycopg(sql: str) -> bytes:
    """A `:name` statement (as `models.queries` writes them) in psycopg's `%(name)s` style."""
    dialect = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]
    return str(text(sql).compile(dialect=dialect)).encode()


class PoolTimeout(Exception):
    """No pooled connection became free within the pool timeout (the API answers 503)."""


class AsyncReadPool:
    def __init__(
        self,
        database_url: str,
        size: int,
        *,
        statement_timeout_ms: int | None = None,
        lock_timeout_ms: int | None = None,
        pool_timeout: float | None = None,
    ) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._size = size
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots: asyncio.Semaphore | None = None
        self._pool_timeout = pool_timeout
        options = ["-c default_transaction_read_only=on"]
        # Every wait of a request has a limit: a lock held elsewhere or a slow plan ends in a 503.
        if statement_timeout_ms is not None:
            options.append(f"-c statement_timeout={statement_timeout_ms}")
        if lock_timeout_ms is not None:
            options.append(f"-c lock_timeout={lock_timeout_ms}")
        self._options = " ".join(options)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            options=self._options,
        )

    async def fetch_one(self, sql: bytes, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of `sql` (psycopg style) or None."""
        rows = await self._execute(sql, params, many=False)
        return rows[0] if rows else None

    async def fetch_all(self, sql: bytes, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of `sql` (psycopg style)."""
        return await self._execute(sql, params, many=True)

    async def _slot(self) -> None:
        if self._slots is None:  # created on the event loop that uses it
            self._slots = asyncio.Semaphore(self._size)
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(f"no database connection free within {self._pool_timeout} s") from None

    async def _execute(self, sql: bytes, params: dict[str, Any], *, many: bool) -> list[tuple[Any, ...]]:
        await self._slot()
        assert self._slots is not None
        try:
            pooled = bool(self._idle)
            connection = self._idle.pop() if pooled else await self._connect()
            try:
                rows = await self._run(connection, sql, params, many)
            except psycopg.OperationalError:
                broken = connection.broken
                await connection.close()
                # Only a connection that died while idle is worth a second try; a timeout or a
                # lock wait that the server cut short would just wait again.
                if not pooled or not broken:
                    raise
                connection = await self._connect()
                try:
                    rows = await self._run(connection, sql, params, many)
                except BaseException:
                    await connection.close()
                    raise
            except BaseException:
                # Cancelled or failed mid-statement: the connection's state is unknown.
                await connection.close()
                raise
            self._idle.append(connection)
            return rows
        finally:
            self._slots.release()

    @staticmethod
    async def _run(
        connection: psycopg.AsyncConnection[Any], sql: bytes, params: dict[str, Any], many: bool
    ) -> list[tuple[Any, ...]]:
        cursor = await connection.execute(sql, params)
        if many:
            return await cursor.fetchall()
        row = await cursor.fetchone()
        return [] if row is None else [row]

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()


class ShareOfPool:
    """At most `limit` of a pool's connections at once, for one kind of read (the refresh
    service's), so that a storm of them leaves the rest of the pool to everyone's lists."""

    def __init__(self, pool: AsyncReadPool, limit: int, wait_timeout: float | None) -> None:
        self._pool = pool
        self._limit = limit
        self._wait_timeout = wait_timeout
        self._slots: asyncio.Semaphore | None = None

    async def fetch_all(self, sql: bytes, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if self._slots is None:  # created on the event loop that uses it
            self._slots = asyncio.Semaphore(self._limit)
        try:
            async with asyncio.timeout(self._wait_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(f"no database connection free within {self._wait_timeout} s") from None
        try:
            return await self._pool.fetch_all(sql, params)
        finally:
            self._slots.release()
