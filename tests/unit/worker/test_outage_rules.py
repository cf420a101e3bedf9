"""Outage holds without I/O: what an outcome says of its platform, and what a hold does to a row."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from adapters.errors import (
    InsightsDenied,
    IntegrationBug,
    OutageHold,
    PlatformBroken,
    PlatformUnavailable,
    RateLimited,
    ReconnectRequired,
    RetryLater,
)
from worker.outage import Health, health_of
from worker.outcome import PreviousRow, SyncFacts, after_error
from worker.schedule import SchedulePolicy, place_in_queue

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = SchedulePolicy(freshness=timedelta(hours=6))
HOLD_END = NOW + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("error", "health"),
    [
        (None, "up"),
        (PlatformUnavailable("TikTok failed with HTTP 503 after retries"), "down"),
        (RetryLater("Instagram is temporarily unavailable (code 2)", NOW), "down"),
        (RateLimited("spent", NOW, limit="X app rate limit"), None),
        (OutageHold("held", NOW, limit="X outage hold"), None),
        # An answer, even a bad or refusing one, means the platform is up.
        (PlatformBroken("malformed reply"), "up"),
        (ReconnectRequired("revoked"), "up"),
        (IntegrationBug("wrong field"), "up"),
        (InsightsDenied("denied", "read_insights", "warning"), "up"),
        (ValueError("our own bug"), None),
    ],
)
def test_what_an_outcome_says_of_its_platform(error: BaseException | None, health: Health | None) -> None:
    assert health_of(error) == health


def test_a_held_row_is_left_as_it_was_and_keeps_its_place() -> None:
    read_at = NOW - timedelta(hours=7)  # overdue since read_at + 85 % of 6 h
    prev = PreviousRow(
        sync_status="synced",
        metrics={"follower_count": 10},
        warnings=(),
        consecutive_failures=0,
        last_updated_at=read_at,
        stale_after=read_at + POLICY.freshness,
    )
    update = after_error(
        prev,
        OutageHold("held", HOLD_END, limit="TikTok outage hold"),
        SyncFacts(NOW, POLICY),
        random.Random(1),
    )
    assert (update.sync_status, update.metrics, update.last_updated_at, update.stale_after) == (
        "synced",
        {"follower_count": 10},
        read_at,
        prev.stale_after,
    )
    assert update.consecutive_failures == 0 and update.error_message is None
    assert update.next_sync_at == read_at + timedelta(hours=6 * 0.85)
    assert update.deferred_note == "TikTok outage hold: next attempt after 2026-12-01T12:01:00Z"
    assert update.event == "sync.outage_held"


def test_the_place_in_queue_orders_accounts_by_staleness() -> None:
    reads = [NOW - timedelta(hours=h) for h in (9, 8, 7, 1)]
    places = [place_in_queue(POLICY, r, NOW) for r in reads]
    assert places == sorted(places)
    assert place_in_queue(POLICY, None, NOW) == NOW  # never read: due now
