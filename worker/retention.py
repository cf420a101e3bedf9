"""The `history.downsample` beat task's body: enforce the history retention policy once."""

from __future__ import annotations

from datetime import timedelta

import structlog

from models.retention import RetentionReport, downsample_history
from models.sync_state import database_now
from worker.composition import WorkerDeps

log = structlog.get_logger()


def run_retention(deps: WorkerDeps) -> RetentionReport:
    settings = deps.settings
    with deps.sessions() as session:
        now = database_now(session)  # the clock the snapshots were stamped against
    report = downsample_history(
        deps.sessions,
        now,
        timedelta(days=settings.history_recent_days),
        batch_size=settings.history_retention_batch_size,
        max_batches=settings.history_retention_max_batches,
    )
    log.info(
        "history.downsampled",
        deleted=report.deleted,
        batches=report.batches,
        complete=report.complete,
        cutoff=report.cutoff.isoformat(),
    )
    return report
