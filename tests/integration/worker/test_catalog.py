"""The self-healing metric catalog over metric_rejections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from adapters.base import RejectedMetric
from models.catalog import DbMetricCatalog


def test_a_rejection_is_seen_by_every_process_after_its_cache_expires(
    session_factory: sessionmaker[Session],
) -> None:
    here = DbMetricCatalog(session_factory, cache_seconds=60)
    there = DbMetricCatalog(session_factory, cache_seconds=0)
    cached = DbMetricCatalog(session_factory, cache_seconds=60)
    assert cached.rejected("instagram") == frozenset()

    here.reject(RejectedMetric("instagram", "impressions", "metric retired by Instagram"))
    here.reject(RejectedMetric("instagram", "impressions", "again"))  # idempotent

    assert here.rejected("instagram") == {"impressions"}  # its own cache was dropped
    assert there.rejected("instagram") == {"impressions"}
    assert there.rejected("facebook") == frozenset()
    assert cached.rejected("instagram") == frozenset()  # still cached: no query per sync
    cached.invalidate()
    assert cached.rejected("instagram") == {"impressions"}


def test_an_old_rejection_is_tried_again(session_factory: sessionmaker[Session]) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=30)
    old = DbMetricCatalog(session_factory, cache_seconds=0, clock=lambda: long_ago)
    old.reject(RejectedMetric("x", "verified_followers_count", "field rejected"))
    catalog = DbMetricCatalog(session_factory, cache_seconds=0, recheck_after=timedelta(days=7))
    assert catalog.rejected("x") == frozenset()
    catalog.reject(RejectedMetric("x", "verified_followers_count", "still rejected"))
    assert catalog.rejected("x") == {"verified_followers_count"}
