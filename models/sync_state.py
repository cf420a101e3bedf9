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

Credential versions: `accounts.credential_version` counts (re)connects. The claim locks the
account row FOR SHARE before it takes the lease, so it waits for a reconnect in flight and then
reads the new credentials with the new `pending` row (never the new row with the old credentials),
and it returns the version it read. Rotated credentials (`store_credentials`) and the outcome
(`write_outcome`) are written only while that version is still current: a reconnect that committed
meanwhile always wins.

Every function runs inside the caller's transaction and holds no lock beyond it; no transaction
stays open across a platform call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    TextClause,
    TextualSelect,
    bindparam,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from models import outbox
from models.tables import Account, AccountSync


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
    credential_version: int = 1
    workspace_id: str = ""  # whose account: outage holds count distinct workspaces (worker.outage)


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


# One round trip per claim: the lease UPDATE returns the row and, through the join, the account.
# The account row is read FOR SHARE first (a CTE): a plain join would, under READ COMMITTED, pair
# the row a concurrent reconnect rewrote with the account as it was before that reconnect. The lock
# order (accounts, then account_sync) is the reconnect's too, so the two can't deadlock.
# Prebuilt textual statements: building and caching an ORM UPDATE per sync cost more CPU than the
# rest of the claim.
_CLAIM_CONDITIONS = {
    "dispatched": "s.lease_token = :dispatch_token AND s.lease_until > :now",
    "refresh": "(s.lease_token IS NULL OR s.lease_until <= :now) AND s.next_sync_at IS NOT NULL",
    "refresh_interval": (
        "(s.lease_token IS NULL OR s.lease_until <= :now) AND s.next_sync_at IS NOT NULL"
        " AND (s.last_attempt_at IS NULL OR s.last_attempt_at <= :attempted_before)"
    ),
}


def _claim_statement(condition: str) -> TextualSelect:
    sync, account = AccountSync.__table__.c, Account.__table__.c
    return (
        text(
            # Only the fixed conditions above are interpolated.
            f"""
            WITH a AS (
                SELECT id, platform, platform_account_id, handle, auth, credentials, token_expires_at,
                       credential_version, workspace_id
                FROM accounts WHERE id = :account_id FOR SHARE
            )
            UPDATE account_sync AS s SET lease_token = :token, lease_until = :until
            FROM a
            WHERE s.account_id = :account_id AND a.id = s.account_id AND {condition}
            RETURNING s.sync_status, s.metrics, s.warnings, s.error_message, s.consecutive_failures,
                      s.last_updated_at, s.stale_after, a.platform, a.platform_account_id, a.handle,
                      a.auth, a.credentials, a.token_expires_at, a.credential_version, a.workspace_id
            """  # noqa: S608
        )
        .bindparams(
            bindparam("token", type_=sync.lease_token.type),
            *(
                [bindparam("dispatch_token", type_=sync.lease_token.type)]
                if ":dispatch_token" in condition
                else []
            ),
        )
        .columns(
            sync.sync_status,
            sync.metrics,
            sync.warnings,
            sync.error_message,
            sync.consecutive_failures,
            sync.last_updated_at,
            sync.stale_after,
            account.platform,
            account.platform_account_id,
            account.handle,
            account.auth,
            account.credentials,
            account.token_expires_at,
            account.credential_version,
            account.workspace_id,
        )
    )


_CLAIM = {name: _claim_statement(condition) for name, condition in _CLAIM_CONDITIONS.items()}


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
    token = uuid.uuid4()
    params: dict[str, Any] = {"account_id": account_id, "token": token, "until": now + lease, "now": now}
    if dispatch_token is not None:
        statement = _CLAIM["dispatched"]
        params["dispatch_token"] = dispatch_token
    elif min_interval is not None:
        statement = _CLAIM["refresh_interval"]
        params["attempted_before"] = now - min_interval
    else:
        statement = _CLAIM["refresh"]
    claimed = session.execute(statement, params).one_or_none()
    if claimed is None:
        return None
    return ClaimedAccount(
        account_id=account_id,
        lease_token=token,
        platform=claimed.platform,
        platform_account_id=claimed.platform_account_id,
        handle=claimed.handle,
        auth=claimed.auth,
        credentials=bytes(claimed.credentials),
        token_expires_at=claimed.token_expires_at,
        sync_status=claimed.sync_status,
        metrics=dict(claimed.metrics or {}),
        warnings=list(claimed.warnings or []),
        error_message=claimed.error_message,
        consecutive_failures=claimed.consecutive_failures,
        last_updated_at=claimed.last_updated_at,
        stale_after=claimed.stale_after,
        credential_version=claimed.credential_version,
        workspace_id=claimed.workspace_id,
    )


def _holds_lease(account_id: str, lease_token: uuid.UUID) -> Any:
    return exists().where(AccountSync.account_id == account_id, AccountSync.lease_token == lease_token)


def store_credentials(
    session: Session,
    account_id: str,
    lease_token: uuid.UUID,
    encrypted: bytes,
    expires_at: datetime | None,
    *,
    credential_version: int | None = None,
) -> bool:
    """Persist rotated credentials, only while this sync holds the lease and the credentials are
    still the version it claimed (a reconnect wins).

    The version is compared on the updated row itself: when a reconnect commits while this UPDATE
    waits for its row lock, PostgreSQL re-checks that condition on the reconnect's row and writes
    nothing. The lease subquery alone would be judged on the snapshot from before the reconnect.
    """
    conditions = [Account.id == account_id, _holds_lease(account_id, lease_token)]
    if credential_version is not None:
        conditions.append(Account.credential_version == credential_version)
    result = session.execute(
        update(Account).where(*conditions).values(credentials=encrypted, token_expires_at=expires_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@lru_cache(maxsize=64)
def _write_statement(columns: tuple[str, ...]) -> TextClause:
    """The outcome UPDATE of these columns, the snapshot INSERT and the webhook events, as one
    statement: an event is written exactly when its row change is (the transactional outbox)."""
    table = AccountSync.__table__.c
    unknown = [c for c in columns if c not in table or c in ("account_id", "lease_token", "lease_until")]
    if unknown:
        raise ValueError(f"not outcome columns of account_sync: {unknown}")
    assignments = "".join(f"{c} = :{c}, " for c in columns)
    return text(
        # Only column names of account_sync (checked above) and fixed SQL are interpolated.
        # `live_version` locks the account row FOR SHARE and yields nothing once a reconnect has
        # changed its version (a locking read re-checks its condition on the newest row). The
        # snapshot holds what this sync read (:snapshot_metrics), not the row's merged metrics,
        # when it is given.
        f"""
        WITH live_version AS (
            SELECT id FROM accounts
            WHERE id = :account_id
              AND (CAST(:credential_version AS integer) IS NULL
                   OR credential_version = CAST(:credential_version AS integer))
            FOR SHARE
        ), before AS (
            -- The row as it was (locked), so the events can compare old and new status.
            SELECT account_id, sync_status AS old_status, expiry_notified_for AS old_expiry
            FROM account_sync WHERE account_id = :account_id AND lease_token = :lease_token
              AND EXISTS (SELECT 1 FROM live_version)
            FOR UPDATE
        ), written AS (
            UPDATE account_sync AS s SET {assignments}lease_token = NULL, lease_until = NULL,
                expiry_notified_for = COALESCE(CAST(:token_expiring_at AS timestamptz),
                                               s.expiry_notified_for)
            FROM before
            WHERE s.account_id = before.account_id AND s.lease_token = :lease_token
            RETURNING s.account_id, s.sync_status, s.metrics, s.error_message, s.warnings,
                      before.old_status, before.old_expiry
        ), snapshot AS (
            INSERT INTO metric_snapshots (account_id, captured_at, sync_status, metrics)
            SELECT account_id, CAST(:snapshot_at AS timestamptz), sync_status,
                   coalesce(CAST(:snapshot_metrics AS jsonb), metrics)
            FROM written
            WHERE CAST(:snapshot_at AS timestamptz) IS NOT NULL
        ), status_event AS (
            {outbox.INSERT_EVENT_SQL}
            SELECT {outbox.WEBHOOK_ID_SQL}, a.workspace_id, w.account_id, 'account.status_changed',
                   {outbox.status_changed_payload_sql("w", "a")}, now()
            FROM written AS w JOIN accounts AS a ON a.id = w.account_id
            WHERE w.sync_status <> w.old_status
        ), expiry_event AS (
            {outbox.INSERT_EVENT_SQL}
            SELECT {outbox.WEBHOOK_ID_SQL}, a.workspace_id, w.account_id, 'account.token_expiring',
                   {outbox.token_expiring_payload_sql("w", "a", "CAST(:token_expiring_at AS timestamptz)")},
                   now()
            FROM written AS w JOIN accounts AS a ON a.id = w.account_id
            WHERE CAST(:token_expiring_at AS timestamptz) IS NOT NULL
              AND w.old_expiry IS DISTINCT FROM CAST(:token_expiring_at AS timestamptz)
        )
        SELECT count(*) FROM written
        """  # noqa: S608
    ).bindparams(
        *(bindparam(c, type_=table[c].type) for c in columns),
        bindparam("lease_token", type_=table.lease_token.type),
        bindparam("snapshot_at", type_=DateTime(timezone=True)),
        bindparam("snapshot_metrics", type_=JSONB(none_as_null=True)),
        bindparam("credential_version", type_=Integer()),
        bindparam("token_expiring_at", type_=DateTime(timezone=True)),
    )


def write_outcome(
    session: Session,
    account_id: str,
    lease_token: uuid.UUID,
    values: dict[str, Any],
    *,
    snapshot_at: datetime | None = None,
    snapshot_metrics: dict[str, int] | None = None,
    credential_version: int | None = None,
    token_expiring_at: datetime | None = None,
) -> bool:
    """Write the row and release the lease; with `snapshot_at`, append the read to the history
    (`snapshot_metrics`: the metrics this sync read; default the row's metrics).

    False (and nothing written) when this sync no longer holds the lease, or, with
    `credential_version`, when the account was reconnected since the claim. One round trip: the
    snapshot is inserted from the UPDATE's RETURNING in the same statement, and so are the
    webhook events: `account.status_changed` when sync_status changes (never when it stays), and
    `account.token_expiring` with `token_expiring_at` (the expiry of a token inside the warning
    window) the first time that expiry is seen.
    """
    statement = _write_statement(tuple(values))
    params = {
        **values,
        "account_id": account_id,
        "lease_token": lease_token,
        "snapshot_at": snapshot_at,
        "snapshot_metrics": snapshot_metrics,
        "credential_version": credential_version,
        "token_expiring_at": token_expiring_at,
    }
    return bool(session.execute(statement, params).scalar_one())


def database_now(session: Session) -> datetime:
    value: datetime = session.execute(select(func.now())).scalar_one()
    return value
