"""History retention (docs/security.md, "Data growth: history"): whole for the recent period, then
one per UTC day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from models.retention import WATERMARK, downsample_history, read_watermark, retention_cutoff
from models.tables import MetricSnapshot, ServiceState
from simulator.client import SimulatorClient
from tests.support.accounts import connect
from worker.composition import WorkerDeps
from worker.sync import SyncRunner

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RECENT = timedelta(days=7)
TIMES_OF_DAY = (
    timedelta(minutes=10),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=23, minutes=50),
)


def seed(sessions: sessionmaker[Session], account_id: str, days: int) -> None:
    """Four snapshots a day for `days` days up to NOW's day; metric `n` is the minutes since day 0."""
    start = datetime(2026, 12, 1, tzinfo=UTC) - timedelta(days=days - 1)
    with sessions.begin() as session:
        for day in range(days):
            for offset in TIMES_OF_DAY:
                at = start + timedelta(days=day) + offset
                if at <= NOW:
                    session.add(
                        MetricSnapshot(
                            account_id=account_id,
                            captured_at=at,
                            sync_status="synced",
                            metrics={"n": int((at - start).total_seconds() // 60)},
                        )
                    )


def snapshots(sessions: sessionmaker[Session], account_id: str) -> list[datetime]:
    with sessions() as session:
        return list(
            session.scalars(
                select(MetricSnapshot.captured_at)
                .where(MetricSnapshot.account_id == account_id)
                .order_by(MetricSnapshot.captured_at)
            )
        )


def test_cutoff_is_a_whole_utc_day() -> None:
    assert retention_cutoff(NOW, RECENT) == datetime(2026, 11, 24, tzinfo=UTC)


def test_old_days_keep_their_last_snapshot_and_recent_days_stay_whole(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    first = connect(session_factory, workspace, "x", "1", "t1")
    second = connect(session_factory, workspace, "x", "2", "t2")
    seed(session_factory, first, days=12)
    seed(session_factory, second, days=12)

    report = downsample_history(session_factory, NOW, RECENT, batch_size=3, max_batches=100)

    cutoff = datetime(2026, 11, 24, tzinfo=UTC)
    assert report.complete and report.cutoff == cutoff
    # 4 old days x 3 superseded snapshots x 2 accounts, 3 rows a batch (+ the short last batch).
    assert report.deleted == 24 and report.batches == 9
    for account_id in (first, second):
        kept = snapshots(session_factory, account_id)
        old = [at for at in kept if at < cutoff]
        assert old == [datetime(2026, 11, d, 23, 50, tzinfo=UTC) for d in range(20, 24)]
        recent = [at for at in kept if at >= cutoff]
        assert len(recent) == 7 * 4 + 3  # seven whole days, and today's three so far
    with session_factory() as session:
        assert read_watermark(session) == cutoff

    # The next run finds nothing and scans only from the watermark on.
    again = downsample_history(session_factory, NOW, RECENT, batch_size=3, max_batches=100)
    assert (again.deleted, again.batches, again.complete) == (0, 1, True)

    # A day later, one more day crosses the cutoff.
    later = downsample_history(
        session_factory, NOW + timedelta(days=1), RECENT, batch_size=100, max_batches=5
    )
    assert later.deleted == 6
    assert len(snapshots(session_factory, first)) == 4 + 1 + 6 * 4 + 3


def test_a_run_stops_at_max_batches_and_the_next_one_goes_on(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    account_id = connect(session_factory, workspace, "x", "1", "t1")
    seed(session_factory, account_id, days=12)
    partial = downsample_history(session_factory, NOW, RECENT, batch_size=2, max_batches=2)
    assert (partial.deleted, partial.complete) == (4, False)
    with session_factory() as session:
        assert session.get(ServiceState, WATERMARK) is None  # not advanced past unfinished days
    rest = downsample_history(session_factory, NOW, RECENT, batch_size=2, max_batches=100)
    assert rest.complete and rest.deleted == 12 - 4


def test_a_snapshot_holds_only_the_metrics_read_in_that_sync(
    deps: WorkerDeps, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    sim = simulator.upsert_account("instagram", "17841400000000009")
    account_id = connect(session_factory, workspace, "instagram", "17841400000000009", sim["access_token"])
    assert SyncRunner(deps).run(account_id, None, "inline").sync_status == "synced"
    simulator.set_scenario("instagram", "17841400000000009", "no_insights")
    assert SyncRunner(deps).run(account_id, None, "inline").sync_status == "partial"

    with session_factory() as session:
        full, partial = session.scalars(
            select(MetricSnapshot).where(MetricSnapshot.account_id == account_id).order_by(MetricSnapshot.id)
        ).all()
        row_metrics: dict[str, int] = session.execute(
            text("SELECT metrics FROM account_sync WHERE account_id = :id"), {"id": account_id}
        ).scalar_one()
    assert "reach" in full.metrics
    # The row keeps the last good insights; the history does not pretend they were read again.
    assert "reach" in row_metrics
    assert "reach" not in partial.metrics and "follower_count" in partial.metrics
    assert partial.sync_status == "partial"
