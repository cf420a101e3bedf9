"""The API's read connections: one `psycopg_pool.AsyncConnectionPool`, lent to `models` reads.

A read of `GET /v1/analytics/accounts` (the key lookup, then the page) is one statement each; run
in a thread, each would pay a thread hand-off that costs more CPU than the statement's own Python
work, so reads are awaited on the event loop on psycopg's async connections. Connections are
autocommit (no BEGIN/ROLLBACK round trips) with `default_transaction_read_only`, so Postgres
refuses writes on them; psycopg prepares a statement on a connection after a few runs, so Postgres
stops planning it.

The pool is psycopg's own (https://www.psycopg.org/psycopg3/docs/advanced/pool.html): at most
`size` connections, opened on demand, and a wait for one bounded by the pool timeout
(`PoolTimeout`: the API answers 503). There is no check on checkout (a round trip per read):
a read that fails on a connection that turns out dead (Postgres restarted meanwhile) is retried
once, after the pool has dropped its other dead idle connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.engine import make_url

from models.queries import AsyncReader

__all__ = ["PoolTimeout", "ReadConnections", "make_read_pool"]

CONNECT_TIMEOUT_SECONDS = 5
# As the SQLAlchemy engines' pool_recycle: a connection is replaced after half an hour.
MAX_LIFETIME_SECONDS = 1800.0

T = TypeVar("T")


def make_read_pool(
    database_url: str, size: int, *, options: str, timeout: float, name: str
) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """A closed pool of read-only autocommit connections with `options` (`-c name=value`…); the
    lifespan opens it on its event loop."""
    conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return AsyncConnectionPool(
        conninfo,
        min_size=0,
        max_size=size,
        open=False,
        timeout=timeout,
        max_lifetime=MAX_LIFETIME_SECONDS,
        name=name,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": options},
    )


class ReadConnections:
    """Lends the pool's connections to one read each (`models.queries.ConnectionLender`).

    With `limit`, at most that many of the pool's connections at once, for one kind of read (the
    refresh service's), so that a storm of them leaves the rest of the pool to everyone's lists;
    waiting for one of those places is bounded by `wait_timeout` (PoolTimeout)."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        *,
        limit: int | None = None,
        wait_timeout: float | None = None,
    ) -> None:
        self._pool = pool
        self._limit = limit
        self._wait_timeout = wait_timeout
        self._slots: asyncio.Semaphore | None = None

    async def run(self, read: Callable[[AsyncReader], Awaitable[T]]) -> T:
        if self._limit is None:
            return await self._run(read)
        if self._slots is None:  # created on the event loop that uses it
            self._slots = asyncio.Semaphore(self._limit)
        try:
            async with asyncio.timeout(self._wait_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(f"no database connection free within {self._wait_timeout} s") from None
        try:
            return await self._run(read)
        finally:
            self._slots.release()

    async def _run(self, read: Callable[[AsyncReader], Awaitable[T]]) -> T:
        async with self._pool.connection() as connection:
            try:
                return await read(connection)
            except psycopg.OperationalError:
                # Only a connection that died is worth a second try; a timeout or a lock wait
                # that the server cut short would just wait again.
                if not connection.broken:
                    raise
        # The pool drops the dead connection when it is returned; its idle ones died alike.
        await self._pool.check()
        async with self._pool.connection() as connection:
            return await read(connection)
