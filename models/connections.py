"""An account's connection record, as the management API returns it: never a token.

The granted scopes live only inside the encrypted credentials (they arrived with the tokens), so
reading them takes the cipher; credentials that can't be decrypted show `scopes: null` rather than
failing the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from psycopg.rows import namedtuple_row
from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from models.crypto import CredentialsUnreadable, TokenCipher
from models.queries import AsyncReader, Reader
from models.read_models import format_time
from models.tables import Account, AccountSync

log = structlog.get_logger("dravo.models")


@dataclass(frozen=True)
class ConnectionRecord:
    account_id: str
    platform: str
    platform_account_id: str
    handle: str | None
    auth: str
    scopes: tuple[str, ...] | None
    token_expires_at: datetime | None
    connected_at: datetime
    reconnected_at: datetime | None
    sync_status: str
    last_updated_at: datetime | None
    next_sync_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "platform": self.platform,
            "platform_account_id": self.platform_account_id,
            "handle": self.handle,
            "auth": self.auth,
            "scopes": None if self.scopes is None else list(self.scopes),
            "token_expires_at": format_time(self.token_expires_at),
            "connected_at": format_time(self.connected_at),
            "reconnected_at": format_time(self.reconnected_at),
            "sync_status": self.sync_status,
            "last_updated_at": format_time(self.last_updated_at),
            "next_sync_at": format_time(self.next_sync_at),
        }


def get_connection(
    reader: Reader, cipher: TokenCipher, workspace_id: str, account_id: str
) -> ConnectionRecord | None:
    """The record of a connected account of this workspace; None for any other (or a disconnected) one."""
    if "\x00" in workspace_id or "\x00" in account_id:
        return None
    row = reader.execute(_record_query(workspace_id, account_id)).one_or_none()
    return None if row is None else _record(row, cipher, account_id)


async def connection_record(
    conn: AsyncReader, cipher: TokenCipher, workspace_id: str, account_id: str
) -> ConnectionRecord | None:
    """`get_connection` on a psycopg async connection the caller lends (the API's read pool)."""
    if "\x00" in workspace_id or "\x00" in account_id:
        return None
    compiled = _record_query(workspace_id, account_id).compile(dialect=_PSYCOPG)
    async with conn.cursor(row_factory=namedtuple_row) as cursor:
        await cursor.execute(str(compiled).encode(), compiled.params)
        row = await cursor.fetchone()
    return None if row is None else _record(row, cipher, account_id)


_PSYCOPG = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]


def _record_query(workspace_id: str, account_id: str) -> Select[*tuple[Any, ...]]:
    status = func.coalesce(AccountSync.sync_status, "pending")
    return (
        select(
            Account.id,
            Account.platform,
            Account.platform_account_id,
            Account.handle,
            Account.auth,
            Account.credentials,
            Account.token_expires_at,
            Account.connected_at,
            Account.reconnected_at,
            status,
            AccountSync.last_updated_at,
            AccountSync.next_sync_at,
        )
        .outerjoin(AccountSync, AccountSync.account_id == Account.id)
        .where(
            Account.id == account_id,
            Account.workspace_id == workspace_id,
            Account.disconnected_at.is_(None),
        )
    )


def _record(row: Any, cipher: TokenCipher, account_id: str) -> ConnectionRecord:
    try:
        scopes: tuple[str, ...] | None = cipher.decrypt(bytes(row.credentials)).scopes
    except CredentialsUnreadable:
        log.error("connection.credentials_unreadable", account_id=account_id)
        scopes = None
    pending = row[9] == "pending"
    return ConnectionRecord(
        account_id=row.id,
        platform=row.platform,
        platform_account_id=row.platform_account_id,
        handle=row.handle,
        auth=row.auth,
        scopes=scopes,
        token_expires_at=row.token_expires_at,
        connected_at=row.connected_at,
        reconnected_at=row.reconnected_at,
        sync_status=str(row[9]),
        # As in the analytics rows: a pending account shows no read yet.
        last_updated_at=None if pending else row.last_updated_at,
        next_sync_at=row.next_sync_at,
    )
