"""Write side of the sync state: leases, claims and outcome writes on `account_sync`.

The lease protocol (docs/worker.md):

1. The dispatcher claims due rows (`claim_due`): FOR UPDATE SKIP LOCKED, most overdue first,
   and sets `lease_token=T, lease_until=now+lease, next_sync_at=now+lease`. A lost message or a
   killed worker therefore makes the row due again by itself once the lease runs out.
2. The task swaps T for a fresh token (`claim_for_sync`) only while the row still carries T and
   the lease is valid, so a redelivered or duplicated message is a no-op. A refresh (no T)
   claims only a free or expired lease.
3. The outcome is written `WHERE lease_token = mine` (`write_outcome`), clearing the lease: a
   task that lost its lease (expired, reconnected, stolen) changes nothing.

Every function runs inside the caller's transaction and holds no lock beyond it; no transaction
stays open across a platform call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from models.tables import Account, AccountSync, MetricSnapshot


@dataclass(frozen=True)
class DispatchClaim:
    account_id: str
    platform: str
    lease_token: uuid.UUID


@dataclass(frozen=True)
class ClaimedAccount:
    """A row this process now holds the lease of, with what a sync needs to run and to write."""

    account_id: str
    lease_token: uuid.UUID
    platform: str
    platform_account_id: str
    handle: str | None
    auth: str
    credentials: bytes
    token_expires_at: datetime | None
    sync_status: str
    metrics: dict[str, Any]
    warnings: list[str]
    error_message: str | None
    consecutive_failures: int
    last_updated_at: datetime | None
    stale_after: datetime | None


_CLAIM_DUE = text(
    """
    WITH due AS (
        SELECT s.account_id
        FROM account_sync AS s
        WHERE s.platform = :platform
          AND s.next_sync_at IS NOT NULL AND s.next_sync_at <= :now
          AND (s.lease_until IS NULL OR s.lease_until <= :now)
        ORDER BY s.next_sync_at, s.account_id
        LIMIT :limit
        FOR UPDATE OF s SKIP LOCKED
    )
    UPDATE account_sync AS s
    SET lease_token = gen_random_uuid(), lease_until = :until, next_sync_at = :until
    FROM due
    WHERE s.account_id = due.account_id
    RETURNING s.account_id, s.lease_token
    """
)


def claim_due(
    session: Session, platform: str, limit: int, now: datetime, lease: timedelta
) -> list[DispatchClaim]:
    """Lease up to `limit` due accounts of one platform; rows another claimer holds are skipped."""
    if limit <= 0:
        return []
    rows = session.execute(
        _CLAIM_DUE, {"platform": platform, "limit": limit, "now": now, "until": now + lease}
    ).all()
    return [DispatchClaim(account_id=r[0], platform=platform, lease_token=r[1]) for r in rows]


def claim_for_sync(
    session: Session,
    account_id: str,
    dispatch_token: uuid.UUID | None,
    now: datetime,
    lease: timedelta,
    *,
    min_interval: timedelta | None = None,
) -> ClaimedAccount | None:
    """Take the lease for one sync; None if someone else holds it or the row is not to be synced.

    With `dispatch_token`: only while the row still carries that token and it is valid.
    Without: only a free or expired lease on a scheduled row (not requires_reconnect), and, with
    `min_interval`, only if the last attempt is older than that.
    """
    row = AccountSync.__table__.c
    if dispatch_token is not None:
        condition = and_(row.lease_token == dispatch_token, row.lease_until > now)
    else:
        condition = and_(
            or_(row.lease_token.is_(None), row.lease_until <= now),
            row.next_sync_at.is_not(None),
        )
        if min_interval is not None:
            condition = and_(
                condition,
                or_(row.last_attempt_at.is_(None), row.last_attempt_at <= now - min_interval),
            )
    token = uuid.uuid4()
    claimed = session.execute(
        update(AccountSync)
        .where(row.account_id == account_id, condition)
        .values(lease_token=token, lease_until=now + lease)
        .returning(
            row.sync_status,
            row.metrics,
            row.warnings,
            row.error_message,
            row.consecutive_failures,
            row.last_updated_at,
            row.stale_after,
        )
    ).one_or_none()
    if claimed is None:
        return None
    account = session.execute(
        select(
            Account.platform,
            Account.platform_account_id,
            Account.handle,
            Account.auth,
            Account.credentials,
            Account.token_expires_at,
        ).where(Account.id == account_id)
    ).one()
    return ClaimedAccount(
        account_id=account_id,
        lease_token=token,
        platform=account.platform,
        platform_account_id=account.platform_account_id,
        handle=account.handle,
        auth=account.auth,
        credentials=bytes(account.credentials),
        token_expires_at=account.token_expires_at,
        sync_status=claimed.sync_status,
        metrics=dict(claimed.metrics or {}),
        warnings=list(claimed.warnings or []),
        error_message=claimed.error_message,
        consecutive_failures=claimed.consecutive_failures,
        last_updated_at=claimed.last_updated_at,
        stale_after=claimed.stale_after,
    )


def _holds_lease(account_id: str, lease_token: uuid.UUID) -> Any:
    return exists().where(AccountSync.account_id == account_id, AccountSync.lease_token == lease_token)


def store_credentials(
    session: Session,
    account_id: str,
    lease_token: uuid.UUID,
    encrypted: bytes,
    expires_at: datetime | None,
) -> bool:
    """Persist rotated credentials, only while this sync holds the lease (a reconnect wins)."""
    result = session.execute(
        update(Account)
        .where(Account.id == account_id, _holds_lease(account_id, lease_token))
        .values(credentials=encrypted, token_expires_at=expires_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def write_outcome(
    session: Session,
    account_id: str,
    lease_token: uuid.UUID,
    values: dict[str, Any],
    *,
    snapshot_at: datetime | None = None,
) -> bool:
    """Write the row and release the lease; with `snapshot_at`, append the read to the history.

    False (and nothing written) when this sync no longer holds the lease.
    """
    written = session.execute(
        update(AccountSync)
        .where(AccountSync.account_id == account_id, AccountSync.lease_token == lease_token)
        .values(**values, lease_token=None, lease_until=None)
        .returning(AccountSync.sync_status, AccountSync.metrics)
    ).one_or_none()
    if written is None:
        return False
    if snapshot_at is not None:
        session.execute(
            insert(MetricSnapshot).values(
                account_id=account_id,
                captured_at=snapshot_at,
                sync_status=written.sync_status,
                metrics=written.metrics,
            )
        )
    return True


def release_lease(session: Session, account_id: str, lease_token: uuid.UUID) -> bool:
    """Give a lease back without writing an outcome (the sync never reached the platform)."""
    result = session.execute(
        update(AccountSync)
        .where(AccountSync.account_id == account_id, AccountSync.lease_token == lease_token)
        .values(lease_token=None, lease_until=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def database_now(session: Session) -> datetime:
    value: datetime = session.execute(select(func.now())).scalar_one()
    return value
