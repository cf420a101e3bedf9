"""Adapters produce exactly the contract's keys (docs/contract.md section 3)."""

from __future__ import annotations

from adapters import facebook, instagram, tiktok
from adapters.metric_keys import CONTRACT_METRIC_KEYS


def test_facebook_requests_cover_the_contract() -> None:
    requested = {*facebook.NODE_COUNTERS, *facebook.INSIGHT_METRICS, *facebook.RETIRED_METRICS}
    assert requested == set(CONTRACT_METRIC_KEYS["facebook"])


def test_instagram_reads_follower_count_from_the_node_and_the_rest_from_insights() -> None:
    assert ("follower_count", *instagram.PERIOD_METRICS) == instagram.METRIC_KEYS
    assert set(instagram.METRIC_KEYS) == set(CONTRACT_METRIC_KEYS["instagram"])


def test_tiktok_stats_fields_are_the_contract_keys() -> None:
    assert CONTRACT_METRIC_KEYS["tiktok"] == tiktok.STAT_FIELDS
