"""Scheduling math and the outcome -> row mapping (docs/contract.md section 2), without I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import FetchResult
from adapters.errors import (
    IntegrationBug,
    PlatformBroken,
    RateLimited,
    ReconnectRequired,
    RetryLater,
    TokenExpired,
)
from worker import schedule
from worker.outcome import (
    INTERNAL_ERROR_MESSAGE,
    PreviousRow,
    SyncFacts,
    after_error,
    after_result,
    expiry_warning,
    safe_message,
)
from worker.schedule import SchedulePolicy

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICY = SchedulePolicy(
    freshness=timedelta(hours=6), backoff_base=timedelta(minutes=1), max_backoff=timedelta(hours=6)
)
FACTS = SyncFacts(now=NOW, policy=POLICY)
GOOD = PreviousRow(
    sync_status="synced",
    metrics={"follower_count": 10, "likes_count": 5},
    warnings=("old warning",),
    consecutive_failures=0,
    last_updated_at=NOW - timedelta(hours=5),
    stale_after=NOW + timedelta(hours=1),
)
PENDING = PreviousRow(sync_status="pending", metrics={}, warnings=(), consecutive_failures=0)


@pytest.mark.parametrize("seed", range(50))
def test_next_read_lands_before_stale_after_with_bounded_jitter(seed: int) -> None:
    when = schedule.after_read(POLICY, NOW, random.Random(seed))
    assert NOW + timedelta(hours=6) * 0.80 <= when <= NOW + timedelta(hours=6) * 0.85
    assert when < NOW + POLICY.freshness


def test_backoff_doubles_and_is_capped() -> None:
    delays = [schedule.backoff(POLICY, n) for n in range(1, 12)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert max(delays) == POLICY.max_backoff
    assert schedule.backoff(POLICY, 10_000) == POLICY.max_backoff


@pytest.mark.parametrize("seed", range(50))
def test_backoff_jitter_only_shortens_by_up_to_a_fifth(seed: int) -> None:
    when = schedule.after_failure(POLICY, NOW, 3, random.Random(seed))
    assert NOW + timedelta(minutes=4) * 0.8 <= when <= NOW + timedelta(minutes=4)


@pytest.mark.parametrize("seed", range(50))
def test_rate_limit_never_before_the_reset(seed: int) -> None:
    reset = NOW + timedelta(minutes=15)
    when = schedule.after_rate_limit(reset, NOW, random.Random(seed))
    assert reset <= when <= reset + timedelta(seconds=60)
    assert schedule.after_rate_limit(NOW - timedelta(seconds=5), NOW, random.Random(seed)) >= NOW


def test_complete_read_replaces_metrics_and_schedules_before_stale() -> None:
    update = after_result(GOOD, FetchResult(metrics={"follower_count": 11}), FACTS, random.Random(1))
    assert update.sync_status == "synced"
    assert update.metrics == {"follower_count": 11}
    assert update.warnings == [] and update.error_message is None and update.deferred_note is None
    assert update.last_updated_at == NOW and update.stale_after == NOW + timedelta(hours=6)
    assert update.next_sync_at is not None and update.next_sync_at < update.stale_after
    assert update.snapshot and update.consecutive_failures == 0


def test_partial_read_merges_over_the_last_good_metrics() -> None:
    result = FetchResult(
        metrics={"follower_count": 12}, warnings=("likes_count: permission not granted",), complete=False
    )
    update = after_result(GOOD, result, FACTS, random.Random(1))
    assert update.sync_status == "partial"
    assert update.metrics == {"follower_count": 12, "likes_count": 5}
    assert update.warnings == ["likes_count: permission not granted"]


def test_non_integer_values_never_reach_the_row() -> None:
    result = FetchResult(metrics={"a": 1, "b": True, "c": 1.5, "d": "7"})  # type: ignore[dict-item]
    assert after_result(PENDING, result, FACTS, random.Random(1)).metrics == {"a": 1}


def test_rate_limit_keeps_status_and_metrics_and_waits_for_the_reset() -> None:
    reset = NOW + timedelta(minutes=15)
    error = RateLimited("429", reset, limit="X user rate limit")
    update = after_error(GOOD, error, FACTS, random.Random(1))
    assert update.sync_status == "synced" and update.metrics == GOOD.metrics
    assert update.last_updated_at == GOOD.last_updated_at and update.stale_after == GOOD.stale_after
    assert update.next_sync_at is not None and update.next_sync_at >= reset
    assert update.deferred_note == "X user rate limit reached; next attempt after 2026-11-24T12:15:00Z"
    assert not update.snapshot and update.consecutive_failures == 0
    pending = after_error(PENDING, error, FACTS, random.Random(1))
    assert pending.sync_status == "pending" and pending.metrics == {}


@pytest.mark.parametrize("error", [ReconnectRequired("reconnect the account"), TokenExpired("expired")])
def test_credentials_trouble_unschedules_and_keeps_metrics(error: Exception) -> None:
    update = after_error(GOOD, error, FACTS, random.Random(1))
    assert update.sync_status == "requires_reconnect"
    assert update.next_sync_at is None
    assert update.metrics == GOOD.metrics and update.last_updated_at == GOOD.last_updated_at
    assert update.error_message == str(error)


@pytest.mark.parametrize(
    "error",
    [
        PlatformBroken("timeout"),
        IntegrationBug("bad request"),
        RetryLater("down", NOW + timedelta(minutes=1)),
    ],
)
def test_failures_keep_metrics_and_back_off(error: Exception) -> None:
    prev = PreviousRow(
        "failed", {"x": 1}, (), consecutive_failures=2, last_updated_at=NOW - timedelta(days=1)
    )
    update = after_error(prev, error, FACTS, random.Random(1))
    assert update.sync_status == "failed" and update.metrics == {"x": 1}
    assert update.consecutive_failures == 3
    assert update.next_sync_at is not None
    assert NOW + timedelta(minutes=4) * 0.8 <= update.next_sync_at <= NOW + timedelta(minutes=4)


def test_a_short_outage_is_never_retried_before_its_retry_at() -> None:
    # Backoff after three failures is about four minutes; the platform said "in an hour".
    prev = PreviousRow("failed", {"x": 1}, (), consecutive_failures=2)
    retry_at = NOW + timedelta(hours=1)
    update = after_error(prev, RetryLater("down", retry_at), FACTS, random.Random(1))
    assert update.sync_status == "failed" and update.metrics == {"x": 1}
    assert update.next_sync_at == retry_at and update.deferred_note is None


def test_a_first_sync_that_fails_is_failed_with_no_metrics() -> None:
    update = after_error(PENDING, PlatformBroken("Instagram did not answer in time"), FACTS, random.Random(1))
    assert update.sync_status == "failed" and update.metrics == {} and update.last_updated_at is None


def test_our_own_bugs_show_a_generic_message() -> None:
    update = after_error(GOOD, KeyError("access_token=abc"), FACTS, random.Random(1))
    assert update.sync_status == "failed" and update.error_message == INTERNAL_ERROR_MESSAGE


def test_error_messages_never_carry_a_token() -> None:
    facts = SyncFacts(now=NOW, policy=POLICY, secrets=("EAAB-secret-token-123",))
    update = after_error(
        GOOD, PlatformBroken("bad token EAAB-secret-token-123\n in\turl"), facts, random.Random(1)
    )
    assert update.error_message == "bad token [redacted] in url"
    assert len(safe_message("x" * 1000, ())) == 300


def test_expiry_warning_within_seven_days_when_no_silent_refresh() -> None:
    soon = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert (
        expiry_warning("linkedin", soon, False, NOW)
        == "LinkedIn access expires on 2026-12-01; reconnect before then"
    )
    assert expiry_warning("linkedin", soon, True, NOW) is None
    assert expiry_warning("linkedin", NOW + timedelta(days=8), False, NOW) is None
    assert expiry_warning("linkedin", None, False, NOW) is None


def test_the_expiry_warning_is_replaced_not_repeated() -> None:
    warning = "LinkedIn access expires on 2026-12-01; reconnect before then"
    prev = PreviousRow(
        "synced", {"a": 1}, ("LinkedIn access expires on 2026-11-30; reconnect before then",), 0
    )
    facts = SyncFacts(now=NOW, policy=POLICY, expiry_warning=warning)
    update = after_result(prev, FetchResult(metrics={"a": 2}), facts, random.Random(1))
    assert update.warnings == [warning]
    failed = after_error(prev, PlatformBroken("down"), SyncFacts(now=NOW, policy=POLICY), random.Random(1))
    assert failed.warnings == []


def test_an_integration_bug_fails_the_row_under_its_own_event() -> None:
    update = after_error(GOOD, IntegrationBug("retired metric requested"), FACTS, random.Random(1))
    assert update.sync_status == "failed"
    assert update.event == "sync.integration_bug"
    assert after_error(GOOD, PlatformBroken("timeout"), FACTS, random.Random(1)).event == "sync.failed"
