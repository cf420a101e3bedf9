"""The truthful outcomes (docs/worker.md, "Truthful rows: the outcomes"): operator problems fail (never
reconnect); partial reads carry last values."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import FetchResult
from adapters.errors import OPERATOR_CAUSES, OperatorActionNeeded
from worker.outcome import PreviousRow, SyncFacts, after_error, after_result
from worker.schedule import SchedulePolicy

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FACTS = SyncFacts(
    now=NOW,
    policy=SchedulePolicy(
        freshness=timedelta(hours=6), backoff_base=timedelta(minutes=1), max_backoff=timedelta(hours=6)
    ),
)
PREVIOUS = PreviousRow(
    sync_status="synced",
    metrics={"followers_count": 100, "page_video_views": 70, "page_views_total": 9},
    warnings=(),
    consecutive_failures=0,
    last_updated_at=NOW - timedelta(hours=6),
    stale_after=NOW,
)


@pytest.mark.parametrize("cause", OPERATOR_CAUSES)
def test_an_operator_problem_fails_the_row_and_keeps_syncing(cause: str) -> None:
    error = OperatorActionNeeded("Facebook", cause, "the app lacks access")
    update = after_error(PREVIOUS, error, FACTS, random.Random(1))
    assert update.sync_status == "failed"
    assert update.event == "sync.operator_action_needed"
    assert update.log_fields["cause"] == cause
    assert update.next_sync_at is not None  # not parked until a reconnect that fixes nothing
    assert update.metrics == PREVIOUS.metrics
    assert update.error_message and "platform setup of this service needs attention" in update.error_message


def test_a_partial_read_carries_the_last_value_of_what_it_could_not_read() -> None:
    result = FetchResult(
        metrics={"followers_count": 101, "page_views_total": 10},
        warnings=(
            "Facebook sent page_video_views in a form we cannot read; left out this time (last value kept)",
        ),
        complete=False,
    )
    update = after_result(PREVIOUS, result, FACTS, random.Random(1))
    assert update.sync_status == "partial"
    assert update.metrics == {"followers_count": 101, "page_views_total": 10, "page_video_views": 70}
