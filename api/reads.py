"""The API's one read interface, and the one write it makes (`KeyUseRecorder`).

In the spirit of polar's `AsyncReadSession`: handlers ask typed questions (`principal()`,
`accounts_page()`, `history_page()`, `account_record()`) and get typed answers; they never see SQL
text, statements or sessions (the writes are `api.writes'`). Each read is a `models` async
function (`models.queries`, `models.connections.connection_record`) run on a connection lent by
the read pool (`api.readpool`), awaited on the event loop with no thread hand-off; the pool's
connections are read-only on the server (`default_transaction_read_only`).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from functools import partial
from typing import TypeVar

import anyio.to_thread
import structlog
from anyio import CapacityLimiter
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from models import queries
from models.auth import BearerCheck, record_key_use
from models.base import utcnow
from models.connections import ConnectionRecord, connection_record
from models.crypto import TokenCipher
from models.queries import MAX_SNAPSHOTS, ConnectionLender
from models.read_models import AccountFilter, AccountPageText, Principal, SnapshotPage

__all__ = ["AccountPageText", "ApiReads", "KeyUseRecorder", "KeyUseThrottle"]

T = TypeVar("T")

log = structlog.get_logger("dravo.api")
# Threads the key-use bookkeeping may occupy at once (its pool has as many connections).
KEY_USE_THREADS = 2


class ApiReads:
    def __init__(self, connections: ConnectionLender, cipher: TokenCipher) -> None:
        self._connections = connections
        self._cipher = cipher  # the connection record's scopes are read from the credentials

    async def principal(self, check: BearerCheck) -> Principal | None:
        """The principal of a bearer token that passed the checks needing no database."""
        return await self._connections.run(lambda conn: queries.bearer_principal(conn, check))

    async def accounts_page(self, workspace_id: str, where: AccountFilter) -> AccountPageText:
        return await self._connections.run(lambda conn: queries.account_page(conn, workspace_id, where))

    async def history_page(
        self,
        workspace_id: str,
        account_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: tuple[datetime, int] | None = None,
        limit: int = MAX_SNAPSHOTS,
    ) -> SnapshotPage | None:
        """None when the account is unknown or belongs to another workspace."""
        return await self._connections.run(
            lambda conn: queries.history_page(
                conn, workspace_id, account_id, since=since, until=until, after=after, limit=limit
            )
        )

    async def account_record(self, workspace_id: str, account_id: str) -> ConnectionRecord | None:
        """The management API's connection record (no tokens); None when the account is unknown or
        belongs to another workspace."""
        return await self._connections.run(
            lambda conn: connection_record(conn, self._cipher, workspace_id, account_id)
        )


class KeyUseThrottle:
    """Remembers, per process, which keys had their `last_used_at` written in the last minute."""

    def __init__(self, period_seconds: float = 60.0) -> None:
        self._period = period_seconds
        self._written: dict[int, float] = {}
        self._lock = threading.Lock()

    def due(self, key_id: int) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._written.get(key_id)
            if last is not None and now - last < self._period:
                return False
            self._written[key_id] = now
            if len(self._written) > 10_000:  # keys come and go; keep the map bounded
                self._written = {k: t for k, t in self._written.items() if now - t < self._period}
            return True


class KeyUseRecorder:
    """The API's one write on the request path: an API key's `last_used_at`, at most once a minute
    per key and process (and, by the condition in `models.auth.record_key_use`, across processes).

    Bookkeeping, best effort: `sessions` are on a pool of their own (`api.state.make_key_use_writer`),
    so it never queues behind the management writes of any workspace, in at most KEY_USE_THREADS
    threads of its own; a write that can't get a connection or fails is skipped with a warning,
    never failing the request it counts.
    """

    def __init__(self, sessions: sessionmaker[Session], throttle: KeyUseThrottle | None = None) -> None:
        self._sessions = sessions
        self._throttle = throttle or KeyUseThrottle()
        self._threads = CapacityLimiter(KEY_USE_THREADS)

    async def record(self, api_key_id: int) -> None:
        if not self._throttle.due(api_key_id):
            return
        try:
            await anyio.to_thread.run_sync(partial(self._write, api_key_id), limiter=self._threads)
        except sa_exc.SQLAlchemyError as exc:
            log.warning("api.key_use_not_recorded", api_key_id=api_key_id, error=type(exc).__name__)

    def _write(self, api_key_id: int) -> None:
        with self._sessions.begin() as session:
            record_key_use(session, api_key_id, utcnow())
