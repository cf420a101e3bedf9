"""Adapters produce exactly the contract's keys (docs/contract.md section 3)."""

from __future__ import annotations

from adapters import facebook, instagram, tiktok
from ops.foundation import platforms as registry


def test_facebook_requests_cover_the_contract() -> None:
    requested = {*facebook.NODE_COUNTERS, *facebook.INSIGHT_METRICS, *facebook.RETIRED_METRICS}
    assert requested == set(registry.spec("facebook").metric_keys)


def test_instagram_reads_follower_count_from_the_node_and_the_rest_from_insights() -> None:
    assert ("follower_count", *instagram.PERIOD_METRICS) == instagram.METRIC_KEYS
    assert set(instagram.METRIC_KEYS) == set(registry.spec("instagram").metric_keys)


def test_tiktok_stats_fields_are_the_contract_keys() -> None:
    assert registry.spec("tiktok").metric_keys == tiktok.STAT_FIELDS
