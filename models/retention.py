"""History retention: snapshots older than the recent period are downsampled to one per UTC day.

Which one stays: the day's last snapshot (by `captured_at`, then id), the closest to what the
next day started from. Rows are deleted in batches, each its own short transaction, so the table
is never locked for long and syncs keep appending. A watermark in `service_state` remembers up to
where every day is already downsampled, so a run scans only the days that crossed the cutoff
since the last complete run (plus one day, for a sync that wrote a snapshot late).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Integer, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.tables import ServiceState

WATERMARK = "history_downsampled_before"
# A watermark older than anything stored (datetime.min can't cross the driver as a timestamptz).
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
# A sync stamps its snapshot with its start; one that wrote after a run began is still caught.
OVERLAP = timedelta(days=1)

# The time index (ix_metric_snapshots_captured) gives the batch in time order; the account index
# (ix_metric_snapshots_account_captured) answers "is there a later one that day".
_DELETE_BATCH = text(
    """
    DELETE FROM metric_snapshots
    WHERE id IN (
        SELECT m.id FROM metric_snapshots AS m
        WHERE m.captured_at >= :floor AND m.captured_at < :cutoff
          AND EXISTS (
              SELECT 1 FROM metric_snapshots AS n
              WHERE n.account_id = m.account_id
                AND n.captured_at >= m.captured_at
                AND n.captured_at < date_trunc('day', m.captured_at, 'UTC') + interval '1 day'
                AND (n.captured_at, n.id) > (m.captured_at, m.id))
        ORDER BY m.captured_at
        LIMIT :batch)
    """
).bindparams(
    bindparam("floor", type_=DateTime(timezone=True)),
    bindparam("cutoff", type_=DateTime(timezone=True)),
    bindparam("batch", type_=Integer()),
)


@dataclass(frozen=True)
class RetentionReport:
    deleted: int
    batches: int
    complete: bool  # False: the run stopped at max_batches; the next one goes on
    cutoff: datetime


def retention_cutoff(now: datetime, recent: timedelta) -> datetime:
    """Start of the UTC day `recent` before `now`: whole days older than it are downsampled."""
    day = (now - recent).astimezone(UTC)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def delete_batch(session: Session, floor: datetime, cutoff: datetime, batch_size: int) -> int:
    """Delete up to `batch_size` snapshots in [floor, cutoff) that a later one of their day supersedes."""
    result = session.execute(_DELETE_BATCH, {"floor": floor, "cutoff": cutoff, "batch": batch_size})
    return int(result.rowcount)  # type: ignore[attr-defined]


def read_watermark(session: Session) -> datetime | None:
    value = session.scalar(select(ServiceState.value).where(ServiceState.name == WATERMARK))
    return datetime.fromisoformat(value) if value else None


def write_watermark(session: Session, cutoff: datetime) -> None:
    """Advance (never move back) the point before which every day is downsampled."""
    current = read_watermark(session)
    if current is not None and current >= cutoff:
        return
    statement = insert(ServiceState).values(name=WATERMARK, value=cutoff.isoformat(), updated_at=utcnow())
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ServiceState.name],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
    )


def downsample_history(
    sessions: sessionmaker[Session],
    now: datetime,
    recent: timedelta,
    *,
    batch_size: int,
    max_batches: int,
) -> RetentionReport:
    """One retention run: batches until nothing is left before the cutoff, or `max_batches`."""
    cutoff = retention_cutoff(now, recent)
    with sessions() as session:
        watermark = read_watermark(session)
    floor = BEGINNING if watermark is None else min(watermark, cutoff) - OVERLAP
    deleted = batches = 0
    while batches < max_batches:
        with sessions.begin() as session:
            count = delete_batch(session, floor, cutoff, batch_size)
        batches += 1
        deleted += count
        if count < batch_size:
            with sessions.begin() as session:
                write_watermark(session, cutoff)
            return RetentionReport(deleted, batches, True, cutoff)
    return RetentionReport(deleted, batches, False, cutoff)
