"""The API's one write interface: the management and webhook operations, one method each.

Beside `api.reads`: handlers call a method with typed values and get a typed answer; they never
see sessions or SQL. Each method is one transaction on the write engine (a bad input raises inside
it, so nothing is half-written), run in a thread (the model verbs block, and so does the DNS
resolution of a webhook target), through the same `models` verbs as the CLI. The one write of the
request path, an API key's `last_used_at`, stays `api.reads.KeyUseRecorder` (on its own pool).

Every write first passes the workspace's gate (`WriteLimits`): its per-minute window of management
writes, shared by every API process through Redis, then its fair share of this process's writer
connections (`api.fairshare`). Past either: 429 with Retry-After.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import anyio.to_thread
import redis.asyncio as aredis
from sqlalchemy.orm import Session, sessionmaker

from api.errors import InvalidParameter
from api.fairshare import WorkspaceShare
from api.ratelimit import admit_write, give_back_resync, reserve_resync
from models.admin import AdminError, ConnectOutcome, DisconnectOutcome, connect_account, disconnect_account
from models.base import utcnow
from models.connect_input import ConnectFields
from models.connections import ConnectionRecord, get_connection
from models.crypto import TokenCipher
from models.webhook_admin import (
    EndpointLimitReached,
    EndpointView,
    NewEndpoint,
    check_new_target,
    create_endpoint,
    delete_endpoint,
    list_endpoints,
    new_secret,
)
from models.webhook_targets import TargetRefused

# The value types the handlers format, published with the port that returns them.
__all__ = ["ApiWrites", "ConnectionRecord", "DisconnectOutcome", "EndpointView", "NewEndpoint"]

T = TypeVar("T")


@dataclass(frozen=True)
class WriteLimits:
    """The per-workspace limits on management writes (settings, docs/api.md)."""

    redis: aredis.Redis
    writes_per_minute: int
    concurrent_per_workspace: int
    # How long a write waits for its workspace's share of the writer pool before it is a 429.
    share_timeout: float
    # The refresh window a reconnect's sync counts in (DRAVO_REFRESH_ACCOUNTS_PER_MINUTE).
    refresh_accounts_per_minute: int


class ApiWrites:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: TokenCipher,
        limits: WriteLimits,
        *,
        allow_loopback_http: bool,
        max_webhook_endpoints: int | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._limits = limits
        self._share = WorkspaceShare(limits.concurrent_per_workspace, limits.share_timeout)
        self._allow_loopback_http = allow_loopback_http
        self._max_webhook_endpoints = max_webhook_endpoints

    async def connect(self, workspace_id: str, fields: ConnectFields) -> tuple[ConnectionRecord, bool]:
        """Connect or reconnect: the connection record as written, and whether it was a reconnect.
        InvalidParameter (`body`) for a request the model refuses; nothing is written then.

        A reconnect's sync spends one account of the workspace's refresh window; with the window
        spent the credentials are still saved, and the sync waits until the window has room."""
        async with self._gate(workspace_id):
            limits = self._limits
            member, wait = await reserve_resync(
                limits.redis, workspace_id, limits.refresh_accounts_per_minute
            )
            resync_at = None if member is not None else utcnow() + timedelta(seconds=wait)
            try:
                record, outcome = await self._in_thread(
                    lambda: self._connect(workspace_id, fields, resync_at)
                )
            except BaseException:
                if member is not None:
                    await give_back_resync(limits.redis, workspace_id, member)
                raise
            if member is not None and not outcome.resynced:
                await give_back_resync(limits.redis, workspace_id, member)
            return record, outcome.reconnected

    def _connect(
        self, workspace_id: str, fields: ConnectFields, resync_at: datetime | None
    ) -> tuple[ConnectionRecord, ConnectOutcome]:
        with self._sessions.begin() as session:
            try:
                request = dataclasses.replace(
                    fields.request(workspace_id), resync_at=resync_at, resync_unchanged=False
                )
                outcome = connect_account(session, self._cipher, request)
            except AdminError as exc:
                raise InvalidParameter(f"Invalid request body: {exc}.", param="body") from None
            session.flush()
            record = get_connection(session, self._cipher, workspace_id, outcome.account_id)
        assert record is not None  # written just now, in this transaction
        return record, outcome

    @asynccontextmanager
    async def _gate(self, workspace_id: str) -> AsyncIterator[None]:
        """The workspace's write window (every process), then its share of this process's pool."""
        await admit_write(self._limits.redis, workspace_id, self._limits.writes_per_minute)
        async with self._share.hold(workspace_id):
            yield

    async def disconnect(
        self, workspace_id: str, account_id: str, *, purge_history: bool
    ) -> DisconnectOutcome | None:
        """None when the account is unknown or belongs to another workspace."""

        def work() -> DisconnectOutcome | None:
            with self._sessions.begin() as session:
                return disconnect_account(
                    session, account_id, workspace_id=workspace_id, purge_history=purge_history
                )

        async with self._gate(workspace_id):
            return await self._in_thread(work)

    async def create_webhook(self, workspace_id: str, url: str, events: Sequence[str]) -> NewEndpoint:
        """InvalidParameter (`url`) for a URL the target policy refuses; nothing is stored then."""

        def work() -> NewEndpoint:
            # DNS first, outside the transaction (bounded by a timeout).
            target = check_new_target(url, allow_loopback_http=self._allow_loopback_http)
            with self._sessions.begin() as session:
                return create_endpoint(
                    session,
                    self._cipher,
                    workspace_id,
                    target,
                    events,
                    secret=new_secret(),
                    allow_loopback_http=self._allow_loopback_http,
                    max_per_workspace=self._max_webhook_endpoints,
                )

        try:
            async with self._gate(workspace_id):
                return await self._in_thread(work)
        except TargetRefused as exc:
            raise InvalidParameter(f"Invalid value for parameter 'url': {exc}.", param="url") from None
        except EndpointLimitReached:
            raise InvalidParameter(
                f"This workspace already has {self._max_webhook_endpoints} webhook endpoints, the most "
                "allowed; delete one first.",
                param="url",
            ) from None

    async def webhooks(self, workspace_id: str) -> list[EndpointView]:
        """The workspace's endpoints, read on the write engine like the writes they list, so a
        client sees an endpoint it has just created."""

        def work() -> list[EndpointView]:
            with self._sessions() as session:
                return list_endpoints(session, workspace_id)

        # A read: no write window, but it takes a writer connection, so the same fair share.
        async with self._share.hold(workspace_id):
            return await self._in_thread(work)

    async def delete_webhook(self, workspace_id: str, endpoint_id: str) -> bool:
        """False when there is no such endpoint in the workspace."""

        def work() -> bool:
            with self._sessions.begin() as session:
                return delete_endpoint(session, endpoint_id, workspace_id)

        async with self._gate(workspace_id):
            return await self._in_thread(work)

    async def _in_thread(self, work: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(work)
