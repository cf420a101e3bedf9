"""The transactional outbox: writing events beside the row change that causes them, fanning them
out to endpoints, claiming deliveries, recording attempts, pruning.

Ordering: events get ids in commit order per account (the writers hold the account_sync row lock
when they take an id), one fan-out runs at a time (advisory lock), and only the oldest pending
delivery of an (endpoint, account) is ever sent. So one account's events reach an endpoint in
order, and a failing one holds back later events of that account only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# A Standard Webhooks message id: "msg_" and 32 hex digits, the same on every retry.
WEBHOOK_ID_SQL = "'msg_' || replace(CAST(gen_random_uuid() AS text), '-', '')"
# ISO 8601 UTC to the second, like every time in the API.
NOW_ISO_SQL = """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
INSERT_EVENT_SQL = (
    "INSERT INTO webhook_outbox (webhook_id, workspace_id, account_id, event_type, payload, created_at)"
)
# Serialises fan-outs: two at once could create a later event's delivery before an earlier one's.
FAN_OUT_LOCK = 0x647261766F  # "dravo"


def status_changed_payload_sql(row: str, account: str) -> str:
    """The jsonb payload of account.status_changed, from a row with old_status and the new row."""
    return f"""jsonb_build_object(
        'type', 'account.status_changed', 'timestamp', {NOW_ISO_SQL},
        'data', jsonb_build_object(
            'account_id', {row}.account_id, 'workspace_id', {account}.workspace_id,
            'platform', {account}.platform, 'from', {row}.old_status, 'to', {row}.sync_status,
            'error_message', {row}.error_message, 'warnings', {row}.warnings))"""


def token_expiring_payload_sql(row: str, account: str, expires_at: str) -> str:
    return f"""jsonb_build_object(
        'type', 'account.token_expiring', 'timestamp', {NOW_ISO_SQL},
        'data', jsonb_build_object(
            'account_id', {row}.account_id, 'workspace_id', {account}.workspace_id,
            'platform', {account}.platform,
            'expires_at', to_char({expires_at} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))"""


_STATUS_BY_OPERATOR = text(
    f"""
    WITH old AS (
        SELECT s.account_id, s.sync_status AS old_status FROM account_sync AS s
        WHERE s.account_id = :account_id FOR UPDATE
    ), changed AS (
        SELECT old.account_id, old.old_status, CAST(:to_status AS text) AS sync_status,
               CAST(NULL AS text) AS error_message, CAST('[]' AS jsonb) AS warnings
        FROM old WHERE old.old_status <> :to_status
    )
    {INSERT_EVENT_SQL}
    SELECT {WEBHOOK_ID_SQL}, a.workspace_id, c.account_id, 'account.status_changed',
           {status_changed_payload_sql("c", "a")}, now()
    FROM changed AS c JOIN accounts AS a ON a.id = c.account_id
    """  # noqa: S608
)


def record_operator_status_change(session: Session, account_id: str, to_status: str) -> None:
    """Before an operator write sets `to_status` (a reconnect: pending), in its transaction.

    Locks the account_sync row, so a sync finishing meanwhile can't slip a change in between.
    """
    session.execute(_STATUS_BY_OPERATOR, {"account_id": account_id, "to_status": to_status})


_DISCONNECTED = text(
    f"""
    {INSERT_EVENT_SQL}
    SELECT {WEBHOOK_ID_SQL}, a.workspace_id, a.id, 'account.disconnected',
           jsonb_build_object('type', 'account.disconnected', 'timestamp', {NOW_ISO_SQL},
               'data', jsonb_build_object('account_id', a.id, 'workspace_id', a.workspace_id,
                                          'platform', a.platform)),
           now()
    FROM accounts AS a WHERE a.id = :account_id
    """  # noqa: S608
)


def record_disconnected(session: Session, account_id: str) -> None:
    """In the disconnect's transaction, before the account row goes."""
    session.execute(_DISCONNECTED, {"account_id": account_id})


_FAN_OUT = text(
    """
    WITH batch AS (
        SELECT o.id, o.workspace_id, o.account_id, o.event_type FROM webhook_outbox AS o
        WHERE o.fanned_out_at IS NULL ORDER BY o.id LIMIT :limit
    ), created AS (
        INSERT INTO webhook_deliveries (endpoint_id, event_id, account_id, status, attempts,
                                        created_at, next_attempt_at)
        SELECT e.id, b.id, b.account_id, 'pending', 0, :now, :now
        FROM batch AS b JOIN webhook_endpoints AS e ON e.workspace_id = b.workspace_id
        WHERE e.disabled_at IS NULL AND (e.events = '{}' OR b.event_type = ANY (e.events))
        ON CONFLICT DO NOTHING
        RETURNING 1
    ), marked AS (
        UPDATE webhook_outbox AS o SET fanned_out_at = :now FROM batch WHERE o.id = batch.id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM created)
    """
)


def fan_out(session: Session, now: datetime, limit: int) -> tuple[int, int]:
    """(events, deliveries) created from not yet fanned out events; (0, 0) if another runs."""
    if not session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FAN_OUT_LOCK}).scalar_one():
        return 0, 0
    row = session.execute(_FAN_OUT, {"now": now, "limit": limit}).one()
    return int(row[0]), int(row[1])


_DUE_ENDPOINTS = text(
    """
    WITH due AS (
        SELECT d.endpoint_id, e.workspace_id, min(d.next_attempt_at) AS oldest
        FROM webhook_deliveries AS d
        JOIN webhook_endpoints AS e ON e.id = d.endpoint_id AND e.disabled_at IS NULL
             -- An open breaker: skipped until it half-opens (then the claim takes one probe).
             AND (e.breaker_open_until IS NULL OR e.breaker_open_until <= :now)
        WHERE d.status = 'pending' AND d.next_attempt_at <= :now
          AND (d.lease_until IS NULL OR d.lease_until <= :now)
        GROUP BY d.endpoint_id, e.workspace_id
    )
    SELECT endpoint_id, workspace_id FROM due
    -- Round robin over workspaces: every workspace's longest waiting endpoint, then every
    -- workspace's second... so a workspace with a large backlog can't push others back.
    -- Ties at random, so no endpoint always comes last.
    ORDER BY row_number() OVER (PARTITION BY workspace_id ORDER BY oldest, random()), oldest, random()
    """
)


@dataclass(frozen=True)
class DueEndpoint:
    endpoint_id: str
    workspace_id: str


def due_endpoints(session: Session, now: datetime) -> list[DueEndpoint]:
    """Endpoints with due deliveries, in the fair order they should be served in."""
    return [DueEndpoint(str(r[0]), str(r[1])) for r in session.execute(_DUE_ENDPOINTS, {"now": now})]


_WORKSPACES_OF = text("SELECT id, workspace_id FROM webhook_endpoints WHERE id = ANY (:ids)")


def workspaces_of(session: Session, endpoint_ids: list[str]) -> dict[str, str]:
    """endpoint id -> workspace id (ids of deleted endpoints are left out)."""
    if not endpoint_ids:
        return {}
    return {str(r[0]): str(r[1]) for r in session.execute(_WORKSPACES_OF, {"ids": endpoint_ids})}


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: int
    endpoint_id: str
    attempt: int
    created_at: datetime
    webhook_id: str
    event_type: str
    payload: dict[str, Any]


_CLAIM = text(
    """
    WITH endpoint AS (
        -- Half-open (the breaker's time ran out, the failures are still counted): one probe only.
        SELECT id, CASE WHEN breaker_open_until IS NULL THEN :cap ELSE 1 END AS cap
        FROM webhook_endpoints
        WHERE id = :endpoint_id AND disabled_at IS NULL
          AND (breaker_open_until IS NULL OR breaker_open_until <= :now)
        FOR UPDATE
    ), in_flight AS (
        SELECT count(*) AS n FROM webhook_deliveries
        WHERE endpoint_id = :endpoint_id AND lease_until IS NOT NULL AND lease_until > :now
          AND status = 'pending'
    ), due AS (
        -- In event order, the pending deliveries no earlier pending event of their account precedes.
        SELECT d.id FROM webhook_deliveries AS d, endpoint
        WHERE d.endpoint_id = :endpoint_id AND d.status = 'pending' AND d.next_attempt_at <= :now
          AND (d.lease_until IS NULL OR d.lease_until <= :now)
          AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries AS p
              WHERE p.endpoint_id = d.endpoint_id AND p.account_id = d.account_id
                AND p.status = 'pending' AND p.event_id < d.event_id)
        ORDER BY d.event_id
        LIMIT GREATEST((SELECT cap FROM endpoint) - (SELECT n FROM in_flight), 0)
    )
    -- = ANY(ARRAY(...)): primary key probes; a join on `due` was planned as a scan of the table.
    UPDATE webhook_deliveries AS d SET lease_until = :until, attempts = d.attempts + 1
    FROM webhook_outbox AS o
    WHERE d.id = ANY (ARRAY(SELECT id FROM due)) AND o.id = d.event_id
    RETURNING d.id, d.attempts, d.created_at, o.webhook_id, o.event_type, o.payload
    """
)


def claim(
    session: Session, endpoint_id: str, now: datetime, cap: int, lease: timedelta
) -> list[ClaimedDelivery]:
    """Lease the next deliveries of one endpoint: the oldest pending one of each account, at most
    `cap` in flight for the endpoint across every worker (the endpoint row lock serialises claims).
    Nothing while its breaker is open; one delivery (the probe) once it half-opens."""
    rows = session.execute(
        _CLAIM, {"endpoint_id": endpoint_id, "now": now, "cap": cap, "until": now + lease}
    ).all()
    return [
        ClaimedDelivery(
            delivery_id=int(r[0]),
            endpoint_id=endpoint_id,
            attempt=int(r[1]),
            created_at=r[2],
            webhook_id=str(r[3]),
            event_type=str(r[4]),
            payload=dict(r[5]),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: int
    attempt: int
    attempted_at: datetime
    outcome: str  # delivered | retry | failed
    status_code: int | None
    latency_ms: int | None
    error: str | None
    next_attempt_at: datetime | None  # when outcome is retry


_RECORD_ATTEMPT = text(
    """
    WITH attempt AS (
        INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, attempted_at, outcome,
                                      status_code, latency_ms, error, next_attempt_at)
        SELECT d.id, d.endpoint_id, :attempt, :attempted_at, :outcome, :status_code, :latency_ms,
               :error, :next_attempt_at
        FROM webhook_deliveries AS d WHERE d.id = :delivery_id
    )
    UPDATE webhook_deliveries SET
        status = CASE :outcome WHEN 'retry' THEN 'pending' ELSE :outcome END,
        next_attempt_at = COALESCE(CAST(:next_attempt_at AS timestamptz), next_attempt_at),
        finished_at = CASE :outcome WHEN 'retry' THEN NULL ELSE CAST(:attempted_at AS timestamptz) END,
        lease_until = NULL, last_status_code = :status_code, last_error = :error
    WHERE id = :delivery_id AND status = 'pending'
    """
)

_ENDPOINT_SUCCESS = text(
    """
    UPDATE webhook_endpoints SET failed_in_row = 0, last_success_at = :at
    WHERE id = :endpoint_id AND (failed_in_row <> 0 OR last_success_at IS NULL OR last_success_at < :at)
    """
)

_ENDPOINT_FAILED = text(
    """
    UPDATE webhook_endpoints SET failed_in_row = failed_in_row + :failed,
        disabled_at = CASE WHEN failed_in_row + :failed >= :limit AND disabled_at IS NULL
                           THEN CAST(:at AS timestamptz) ELSE disabled_at END,
        disabled_reason = CASE WHEN failed_in_row + :failed >= :limit AND disabled_at IS NULL
                               THEN :reason ELSE disabled_reason END
    WHERE id = :endpoint_id
    RETURNING disabled_at
    """
)

# The breaker counts attempts (not deliveries): `:tail` failed after the batch's last success
# (all of them when `:succeeded` is false). Open at the limit; a success closes it. A failed
# probe of a half-open breaker (still at or past the limit) opens it again at once.
_ENDPOINT_BREAKER = text(
    """
    UPDATE webhook_endpoints SET
        attempts_failed_in_row = CASE WHEN :succeeded THEN :tail ELSE attempts_failed_in_row + :tail END,
        breaker_open_until = CASE
            WHEN (CASE WHEN :succeeded THEN :tail ELSE attempts_failed_in_row + :tail END) >= :limit
            THEN CAST(:open_until AS timestamptz) ELSE NULL END
    WHERE id = :endpoint_id
    RETURNING breaker_open_until
    """
)


def record_breaker(
    session: Session, endpoint_id: str, results: list[AttemptResult], *, after: int, open_for: timedelta
) -> datetime | None:
    """Count the batch's attempts into the endpoint's breaker; until when it is open (None: closed)."""
    if not results:
        return None
    ordered = sorted(results, key=lambda r: r.attempted_at)
    last_ok = max((i for i, r in enumerate(ordered) if r.outcome == "delivered"), default=-1)
    tail = len(ordered) - last_ok - 1
    at = ordered[-1].attempted_at
    opened: datetime | None = session.execute(
        _ENDPOINT_BREAKER,
        {
            "endpoint_id": endpoint_id,
            "succeeded": last_ok >= 0,
            "tail": tail,
            "limit": after,
            "open_until": at + open_for,
        },
    ).scalar_one_or_none()
    return opened


_FAIL_PENDING_OF_DISABLED = text(
    """
    UPDATE webhook_deliveries SET status = 'failed', finished_at = :at, lease_until = NULL,
        last_error = 'endpoint disabled'
    WHERE endpoint_id = :endpoint_id AND status = 'pending'
    """
)


def record_attempts(
    session: Session, endpoint_id: str, results: list[AttemptResult], *, disable_after: int
) -> bool:
    """Write a batch's attempts; True if the endpoint got disabled by them."""
    if results:
        # One executemany (pipelined by psycopg): one round trip for the batch, not one per row.
        session.execute(
            _RECORD_ATTEMPT,
            [
                {
                    "delivery_id": r.delivery_id,
                    "attempt": r.attempt,
                    "attempted_at": r.attempted_at,
                    "outcome": r.outcome,
                    "status_code": r.status_code,
                    "latency_ms": r.latency_ms,
                    "error": r.error,
                    "next_attempt_at": r.next_attempt_at,
                }
                for r in results
            ],
        )
    delivered = [r for r in results if r.outcome == "delivered"]
    failed = [r for r in results if r.outcome == "failed"]
    if delivered:
        at = max(r.attempted_at for r in delivered)
        session.execute(_ENDPOINT_SUCCESS, {"endpoint_id": endpoint_id, "at": at})
    if not failed:
        return False
    last = failed[-1]
    why = f"HTTP {last.status_code}" if last.status_code is not None else (last.error or "no reply")
    at = last.attempted_at
    reason = (
        f"{disable_after} deliveries in a row failed after every retry; "
        f"last at {at.strftime('%Y-%m-%dT%H:%M:%SZ')}: {why}"
    )
    disabled_at = session.execute(
        _ENDPOINT_FAILED,
        {
            "endpoint_id": endpoint_id,
            "failed": len(failed),
            "limit": disable_after,
            "at": at,
            "reason": reason,
        },
    ).scalar_one_or_none()
    if disabled_at is not None and disabled_at == at:
        session.execute(_FAIL_PENDING_OF_DISABLED, {"endpoint_id": endpoint_id, "at": at})
        return True
    return False


_PRUNE = text(
    """
    DELETE FROM webhook_outbox WHERE id IN (
        SELECT o.id FROM webhook_outbox AS o
        WHERE o.created_at < :cutoff AND o.fanned_out_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries AS d
                          WHERE d.event_id = o.id AND d.status = 'pending')
        ORDER BY o.created_at LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    """
)


def prune(session: Session, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` events older than `cutoff` that no endpoint still waits for (and with
    them their deliveries and attempts). Batches: never one long table-locking DELETE."""
    result = session.execute(_PRUNE, {"cutoff": cutoff, "limit": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]


_BACKLOG = text(
    """
    SELECT (SELECT count(*) FROM webhook_outbox WHERE fanned_out_at IS NULL),
           (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')
    """
)


def backlog(session: Session) -> tuple[int, int]:
    """(events not yet fanned out, deliveries pending)."""
    row = session.execute(_BACKLOG).one()
    return int(row[0]), int(row[1])


_DELIVERIES_BY_STATUS = text("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")


def deliveries_by_status(session: Session) -> dict[str, int]:
    """Deliveries still kept (pending, and delivered/failed until pruned), by status."""
    return {str(r[0]): int(r[1]) for r in session.execute(_DELIVERIES_BY_STATUS)}


_RENEW_LEASES = text(
    """
    UPDATE webhook_deliveries SET lease_until = GREATEST(lease_until, :until)
    WHERE id = ANY (:ids) AND status = 'pending' AND lease_until IS NOT NULL
    """
)


def renew_leases(session: Session, delivery_ids: list[int], until: datetime) -> int:
    """Extend the leases of deliveries a running task is still sending (not of finished ones)."""
    if not delivery_ids:
        return 0
    result = session.execute(_RENEW_LEASES, {"ids": delivery_ids, "until": until})
    return int(result.rowcount)  # type: ignore[attr-defined]
