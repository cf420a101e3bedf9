"""Beat enforces the history retention policy through a real worker (docs/security.md, "Data growth:
history")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ScalarResult, func, select
from sqlalchemy.orm import Session, sessionmaker

from models.tables import MetricSnapshot
from ops.testing.processes import wait_until
from tests.support.accounts import connect
from tests.support.fixtures import Processes


def test_beat_downsamples_old_history(
    processes: Processes, e2e_env: dict[str, str], session_factory: sessionmaker[Session], workspace: str
) -> None:
    account_id = connect(session_factory, workspace, "tiktok", "open-old", "token-old")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with session_factory.begin() as session:
        for day in range(10, 13):  # three days well past the 7-day recent period, 5 snapshots each
            for hour in (1, 5, 9, 13, 17):
                captured = today - timedelta(days=day) + timedelta(hours=hour)
                session.add(
                    MetricSnapshot(
                        account_id=account_id, captured_at=captured, sync_status="synced", metrics={"h": hour}
                    )
                )

    e2e_env.update(
        {"DRAVO_HISTORY_RETENTION_INTERVAL_SECONDS": "1", "DRAVO_HISTORY_RETENTION_BATCH_SIZE": "4"}
    )
    processes.worker(queues="sync.dispatch")
    processes.beat()

    def count() -> int:
        with session_factory() as session:
            return session.execute(
                select(func.count())
                .select_from(MetricSnapshot)
                .where(MetricSnapshot.account_id == account_id)
            ).scalar_one()

    wait_until(lambda: count() == 3, 20, 0.2, "old history downsampled to one snapshot a day")
    with session_factory() as session:
        kept: ScalarResult[dict[str, Any]] = session.scalars(
            select(MetricSnapshot.metrics).where(MetricSnapshot.account_id == account_id)
        )
        assert [m["h"] for m in kept] == [17, 17, 17]
