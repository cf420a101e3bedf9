"""The read-only query module: what the API (and `dravo-sync sync`) may ask of the database.

Every function takes a session (the API gives it a read-only one, see
`models.db.make_read_only_session_factory`) and returns typed read models from
`models.read_models`, never ORM objects. The one write the API makes, recording when an API key
was last used, lives in `models.auth.record_key_use`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Select, exists, select
from sqlalchemy.orm import Session

from models.read_models import (
    AccountFilter,
    AccountRow,
    ApiKeyRecord,
    Platform,
    SnapshotRow,
    SyncStatus,
    integer_metrics,
)
from models.tables import Account, AccountSync, ApiKey, MetricSnapshot, Workspace

__all__ = [
    "MAX_SNAPSHOTS",
    "account_in_workspace",
    "find_api_key",
    "get_account_row",
    "list_account_rows",
    "list_snapshots",
    "to_account_row",
    "workspace_exists",
]

# A history page is bounded so one request can't pull years of rows at once.
MAX_SNAPSHOTS = 1000


def _storable(value: str) -> bool:
    # Postgres text can't hold NUL: such a value matches nothing, and must not reach the driver.
    return "\x00" not in value


def _row_select() -> Select[Any]:
    # An outer join: an account whose sync row is missing still shows, as pending.
    return (
        select(
            Account.id,
            Account.workspace_id,
            Account.platform,
            Account.handle,
            Account.platform_account_id,
            AccountSync.metrics,
            AccountSync.warnings,
            AccountSync.sync_status,
            AccountSync.error_message,
            AccountSync.last_updated_at,
            AccountSync.stale_after,
            AccountSync.deferred_note,
        )
        .select_from(Account)
        .outerjoin(AccountSync, AccountSync.account_id == Account.id)
    )


def to_account_row(row: Row[Any], now: datetime) -> AccountRow:
    """Apply CONTRACT.md §2 to one joined row."""
    status = cast(SyncStatus, row.sync_status or "pending")
    pending = status == "pending"
    # After a reconnect the old metrics stay in the database but are not shown until a sync.
    last_updated_at = None if pending else row.last_updated_at
    stale_after = None if pending else row.stale_after
    warnings = tuple(w for w in (row.warnings or []) if isinstance(w, str))
    stale = stale_after is None or stale_after <= now
    if stale and row.deferred_note and row.deferred_note not in warnings:
        warnings = (*warnings, row.deferred_note)
    return AccountRow(
        account_id=row.id,
        platform=cast(Platform, row.platform),
        handle=row.handle,
        platform_account_id=row.platform_account_id,
        metrics={} if pending else integer_metrics(row.metrics, row.platform),
        warnings=warnings,
        sync_status=status,
        error_message=row.error_message,
        last_updated_at=last_updated_at,
        stale_after=stale_after,
        workspace_id=row.workspace_id,
    )


def list_account_rows(
    session: Session, workspace_id: str, where: AccountFilter, now: datetime | None = None
) -> list[AccountRow]:
    """A workspace's rows, by account creation time then id: one SQL query whatever the count."""
    if not _storable(workspace_id) or (where.account_id is not None and not _storable(where.account_id)):
        return []
    query = _row_select().where(Account.workspace_id == workspace_id)
    if where.account_id is not None:
        query = query.where(Account.id == where.account_id)
    if where.platform is not None:
        query = query.where(Account.platform == where.platform)
    query = query.order_by(Account.created_at, Account.id).limit(where.limit)
    at = now or datetime.now(UTC)
    return [to_account_row(row, at) for row in session.execute(query)]


def get_account_row(session: Session, account_id: str, now: datetime | None = None) -> AccountRow | None:
    """One account's row regardless of workspace: for operator tools, never for the API."""
    if not _storable(account_id):
        return None
    row = session.execute(_row_select().where(Account.id == account_id)).one_or_none()
    return None if row is None else to_account_row(row, now or datetime.now(UTC))


def account_in_workspace(session: Session, workspace_id: str, account_id: str) -> bool:
    if not (_storable(workspace_id) and _storable(account_id)):
        return False
    query = select(
        exists().where(Account.id == account_id, Account.workspace_id == workspace_id)
    )
    return bool(session.scalar(query))


def list_snapshots(
    session: Session,
    workspace_id: str,
    account_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = MAX_SNAPSHOTS,
) -> list[SnapshotRow] | None:
    """An account's snapshots with since <= captured_at <= until, oldest first.

    None when the account is unknown or belongs to another workspace (the caller can't tell which).
    """
    if not account_in_workspace(session, workspace_id, account_id):
        return None
    query = select(MetricSnapshot.captured_at, MetricSnapshot.sync_status, MetricSnapshot.metrics).where(
        MetricSnapshot.account_id == account_id
    )
    if since is not None:
        query = query.where(MetricSnapshot.captured_at >= since)
    if until is not None:
        query = query.where(MetricSnapshot.captured_at <= until)
    query = query.order_by(MetricSnapshot.captured_at, MetricSnapshot.id).limit(limit)
    return [
        SnapshotRow(
            captured_at=row.captured_at,
            sync_status=cast(SyncStatus, row.sync_status),
            metrics=integer_metrics(row.metrics),
        )
        for row in session.execute(query)
    ]


def find_api_key(session: Session, prefix: str) -> ApiKeyRecord | None:
    """The stored key with this visible prefix; the caller compares hashes in constant time."""
    if not _storable(prefix):
        return None
    row = session.execute(
        select(ApiKey.id, ApiKey.workspace_id, ApiKey.key_hash, ApiKey.revoked_at, ApiKey.last_used_at).where(
            ApiKey.prefix == prefix
        )
    ).one_or_none()
    if row is None:
        return None
    return ApiKeyRecord(
        id=row.id,
        workspace_id=row.workspace_id,
        key_hash=bytes(row.key_hash),
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def workspace_exists(session: Session, workspace_id: str) -> bool:
    if not _storable(workspace_id):
        return False
    return bool(session.scalar(select(exists().where(Workspace.id == workspace_id))))
