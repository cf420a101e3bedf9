"""Truthful reads (docs/platforms.md) on recorded bodies: values read as the platforms send them,
one bad metric never fails a sync, insights permissions are partial, and operator problems are
never a reconnect."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from adapters import facebook, linkedin, meta, tiktok, x
from adapters.base import AccountRef, MemoryCatalog, RejectedMetric
from adapters.errors import (
    InsightsDenied,
    OperatorActionNeeded,
    PlatformBroken,
    PlatformError,
    ReconnectRequired,
)
from ops.foundation.platforms import PinnedVersion
from ops.versions import version_lifetimes
from simulator.versions import graph_version_served, linkedin_version_served
from tests.unit.adapters import recorded_bodies as rec
from tests.unit.adapters import truthful_bodies as tb
from tests.unit.adapters.recorded_bodies import make_reply

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_facebook_reactions_by_type_are_summed_over_types_and_days() -> None:
    requested = ["page_actions_post_reactions_total", "page_views_total"]
    out = facebook.normalise(rec.FB_PAGE, tb.FB_REACTIONS_BY_TYPE["data"], requested)
    assert out.metrics["page_actions_post_reactions_total"] == 4 + 2 + 1 + 3 + 1 + 0
    assert out.metrics["page_views_total"] == 10
    assert out.warnings == [] and out.unreadable == []


def test_one_unreadable_facebook_metric_is_left_out_and_named() -> None:
    requested = ["page_post_engagements", "page_video_views", "page_total_actions", "page_views_total"]
    out = facebook.normalise(rec.FB_PAGE, tb.FB_UNREADABLE["data"], requested)
    assert out.metrics["page_views_total"] == 11
    assert out.metrics["followers_count"] == 320
    # An object for a plain count, a lifetime value, a string: none is guessed at.
    assert sorted(out.unreadable) == ["page_post_engagements", "page_total_actions", "page_video_views"]
    assert any("cannot read" in w and "page_video_views" in w for w in out.warnings)


def test_facebook_read_insights_refusal_is_insights_denied_with_the_permission() -> None:
    error = meta.classify(make_reply(403, tb.FB_NO_READ_INSIGHTS), NOW, label="Facebook", edge="insights")
    assert isinstance(error, InsightsDenied)
    assert error.warning == "Facebook Page insight metrics unavailable: reconnect and grant read_insights."


def test_facebook_permission_refusal_of_the_basic_read_is_a_reconnect() -> None:
    error = meta.classify(make_reply(403, tb.FB_NO_READ_INSIGHTS), NOW, label="Facebook", edge="node")
    assert isinstance(error, ReconnectRequired)


@pytest.mark.parametrize("body", [tb.META_CODE_10_APP, rec.META_CODE_200])
def test_instagram_insights_refusal_is_insights_denied(body: object) -> None:
    error = meta.classify(make_reply(400, body), NOW, label="Instagram", edge="insights")
    assert isinstance(error, InsightsDenied)
    assert error.warning.startswith("Instagram insight metrics unavailable: reconnect and grant ")


def test_linkedin_statistics_refusal_is_partial_but_the_basic_read_is_not() -> None:
    stats = linkedin.classify(make_reply(403, tb.LI_STATS_DENIED), NOW, edge="organizationPageStatistics")
    assert isinstance(stats, InsightsDenied)
    assert "rw_organization_admin" in stats.warning
    basic = linkedin.classify(make_reply(403, tb.LI_STATS_DENIED), NOW, edge="networkSizes")
    assert isinstance(basic, ReconnectRequired)


def test_linkedin_unique_page_views_are_not_summed_over_days() -> None:
    out = linkedin.normalise_organization(
        rec.LI_NETWORK_SIZES, rec.LI_GAINS, rec.LI_PAGES, "urn:li:organization:1"
    )
    assert not [k for k in out.metrics if "unique" in k]


# Every platform's operator-side refusals: failed (OperatorActionNeeded), never requires_reconnect.
OPERATOR_SIDE: list[tuple[str, PlatformError | None]] = [
    (
        "meta (#10) app on a basic read",
        meta.classify(make_reply(400, tb.META_CODE_10_APP), NOW, label="Facebook"),
    ),
    (
        "meta (#10) app on instagram node",
        meta.classify(make_reply(400, tb.META_CODE_10_APP), NOW, label="Instagram"),
    ),
    ("meta (#3) capability", meta.classify(make_reply(400, tb.META_CODE_3), NOW, label="Facebook")),
    (
        "meta sunset version",
        meta.classify(make_reply(400, tb.META_DEPRECATED_VERSION), NOW, label="Instagram"),
    ),
    ("x 402 credits", x.classify(make_reply(402, rec.X_CREDITS), NOW)),
    ("x usage cap", x.classify(make_reply(429, rec.X_USAGE_CAP), NOW)),
    ("x client-forbidden", x.classify(make_reply(403, rec.X_CLIENT_FORBIDDEN), NOW)),
    ("x unsupported-authentication", x.classify(make_reply(403, rec.X_UNSUPPORTED_AUTH), NOW)),
    ("x public client refused", x.classify_token_reply(make_reply(401, tb.OAUTH_INVALID_CLIENT), NOW)),
    ("linkedin 426 sunset version", linkedin.classify(make_reply(426, rec.LI_SUNSET), NOW)),
    (
        "linkedin 403 app product",
        linkedin.classify(make_reply(403, tb.LI_APP_LACKS_PRODUCT), NOW, edge="networkSizes"),
    ),
    ("tiktok client refused", tiktok.classify_token_reply(make_reply(401, tb.OAUTH_INVALID_CLIENT), NOW)),
]


@pytest.mark.parametrize(("case", "error"), OPERATOR_SIDE, ids=[c for c, _ in OPERATOR_SIDE])
def test_no_operator_side_error_maps_to_requires_reconnect(case: str, error: PlatformError | None) -> None:
    assert isinstance(error, OperatorActionNeeded), case
    assert not isinstance(error, ReconnectRequired)
    assert "platform setup of this service needs attention" in error.message


def test_tiktok_without_the_stats_scope_stays_a_reconnect_naming_it() -> None:
    body = {"data": {}, "error": {"code": "scope_not_authorized", "message": "", "log_id": "1"}}
    error = tiktok.classify(make_reply(401, body), NOW)
    assert isinstance(error, ReconnectRequired)
    assert "user.info.stats" in error.message


def test_metric_memory_is_per_account_and_retirement_needs_two_workspaces() -> None:
    catalog = MemoryCatalog(workspace_of={"acc_a": "ws_1", "acc_b": "ws_1", "acc_c": "ws_2"})
    a, b, c = (AccountRef(f"acc_{n}", "facebook", n) for n in "abc")
    catalog.reject(a, RejectedMetric("facebook", "page_video_views", "retired", retirement=True))
    assert catalog.memory(a).refused == {"page_video_views"}
    assert catalog.memory(c).skipped() == frozenset()  # another workspace is untouched
    catalog.reject(b, RejectedMetric("facebook", "page_video_views", "retired", retirement=True))
    assert catalog.memory(c).retired == frozenset()  # still one workspace
    catalog.reject(c, RejectedMetric("facebook", "page_video_views", "retired", retirement=True))
    assert catalog.memory(AccountRef("acc_d", "facebook", "d")).retired == {"page_video_views"}


def test_a_permission_refusal_never_retires_a_metric() -> None:
    catalog = MemoryCatalog()
    for n in "ab":
        catalog.reject(AccountRef(f"acc_{n}", "x", n), RejectedMetric("x", "verified_followers_count", "no"))
    assert catalog.memory(AccountRef("acc_c", "x", "c")).retired == frozenset()


def test_version_sunset_warning_60_days_before() -> None:
    pinned = PinnedVersion("202607", date(2026, 7, 1), date(2027, 7, 1), "test")
    assert pinned.warning("LinkedIn", date(2027, 5, 1)) is None
    assert "202607" in (pinned.warning("LinkedIn", date(2027, 5, 3)) or "")
    assert "was switched off" in (pinned.warning("LinkedIn", date(2027, 7, 2)) or "")
    assert PinnedVersion("v27.0", date(2026, 11, 4), None, "t").warning("Facebook", date(2030, 1, 1)) is None


def test_status_lists_every_platform_version() -> None:
    lifetimes = {v.platform: v for v in version_lifetimes(date(2026, 12, 1))}
    assert set(lifetimes) == {"instagram", "facebook", "x", "linkedin", "tiktok"}
    assert lifetimes["linkedin"].warning is None
    assert lifetimes["linkedin"].days_left is not None
    near = {v.platform: v for v in version_lifetimes(date(2027, 6, 1))}
    assert near["linkedin"].warning is not None


def test_pinned_versions_are_served_today_by_the_calendar() -> None:
    today = date(2026, 12, 1)
    assert graph_version_served(meta.GRAPH_API_VERSION, today)
    assert linkedin_version_served(linkedin.API_VERSION, today)


@pytest.mark.parametrize(
    ("version", "on", "served"),
    [
        ("v20.0", date(2026, 9, 23), True),
        ("v20.0", date(2026, 9, 24), False),  # its published end
        ("v27.0", date(2026, 11, 3), False),  # not yet released
        ("v99.0", date(2026, 12, 1), False),
    ],
)
def test_simulated_graph_versions_follow_the_calendar(version: str, on: date, served: bool) -> None:
    assert graph_version_served(version, on) is served


@pytest.mark.parametrize(
    ("version", "on", "served"),
    [
        ("202511", date(2026, 11, 15), True),
        ("202511", date(2026, 11, 16), False),  # migrations page: sunset November 16, 2026
        ("202612", date(2026, 12, 1), True),
        ("202701", date(2026, 12, 1), False),  # not yet released
    ],
)
def test_simulated_linkedin_versions_follow_the_calendar(version: str, on: date, served: bool) -> None:
    assert linkedin_version_served(version, on) is served


def test_metrics_expose_each_pinned_version_and_its_warning() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from api.gauges import VersionLifetimeCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(VersionLifetimeCollector())
    text = generate_latest(registry).decode()
    for platform in ("instagram", "facebook", "x", "linkedin", "tiktok"):
        assert f'dravo_api_version_sunset_warning{{platform="{platform}"' in text
    assert f'dravo_api_version_sunset_days{{platform="linkedin",version="{linkedin.API_VERSION}"}}' in text


def test_one_unreadable_linkedin_leaf_is_left_out_of_the_window() -> None:
    gains = {
        "elements": [
            {"followerGains": {"organicFollowerGain": 2, "paidFollowerGain": 1}},
            {"followerGains": {"organicFollowerGain": "3", "paidFollowerGain": 1}},
        ]
    }
    out = linkedin.normalise_organization({"firstDegreeSize": 7}, gains, None, "urn:li:organization:1")
    assert out.metrics == {
        "follower_statistics_first_degree_size": 7,
        "follower_statistics_follower_gains_paid_follower_gain": 2,
    }
    assert out.unreadable == ["follower_gains_organic_follower_gain"]
    assert any("cannot read" in w for w in out.warnings)


def test_an_unreadable_linkedin_follower_count_is_an_unreadable_reply() -> None:
    with pytest.raises(PlatformBroken):
        linkedin.normalise_organization({"firstDegreeSize": "many"}, None, None, "urn:li:organization:1")


def test_an_overridden_version_is_the_one_reported() -> None:
    lifetimes = {
        v.platform: v
        for v in version_lifetimes(date(2026, 12, 1), {"linkedin": "202603", "facebook": "v25.0"})
    }
    assert (lifetimes["linkedin"].version, lifetimes["linkedin"].sunset) == ("202603", date(2027, 3, 1))
    assert (lifetimes["facebook"].version, lifetimes["facebook"].sunset) == ("v25.0", None)
    assert lifetimes["instagram"].version == meta.GRAPH_API_VERSION
    soon = {v.platform: v for v in version_lifetimes(date(2027, 1, 15), {"linkedin": "202603"})}
    assert soon["linkedin"].warning is not None
