"""Each adapter's pure `normalise(...)` on bodies recorded in docs/platforms.md: no HTTP."""

from __future__ import annotations

import pytest

from adapters import facebook, instagram, linkedin, tiktok, x
from adapters.errors import PlatformBroken
from adapters.values import as_count
from tests.unit.adapters import recorded_bodies as rec


def test_instagram_node_and_total_value_insights() -> None:
    out = instagram.normalise(rec.IG_NODE, rec.IG_INSIGHTS_TOTAL["data"], ["reach", "views"])
    assert out.metrics == {"follower_count": 2, "reach": 14516883}
    assert out.handle == "smritifyp"
    assert out.platform_account_id == "17841411718913026"
    # `views` had no data: left out and warned, never zero.
    assert len(out.warnings) == 1
    assert "views" in out.warnings[0]


def test_instagram_empty_data_means_no_data_not_zero() -> None:
    out = instagram.normalise(rec.IG_NODE_FB4D, [], list(instagram.PERIOD_METRICS))
    assert out.metrics == {"follower_count": 64363}
    assert all(m in out.warnings[0] for m in instagram.PERIOD_METRICS)


def test_instagram_empty_total_value_is_no_data() -> None:
    item = {"name": "reach", "period": "day", "total_value": {}, "id": "1/insights/reach/day"}
    out = instagram.normalise(rec.IG_NODE, [item], ["reach"])
    assert "reach" not in out.metrics
    assert out.warnings


def test_instagram_unique_counts_per_day_are_not_summed_and_unrequested_names_ignored() -> None:
    out = instagram.normalise(rec.IG_NODE, rec.IG_INSIGHTS_SERIES["data"], ["reach"])
    # follower_count comes from the node (2), not from the insights series (1000); reach per
    # day counts unique accounts, which can't be added up: left out with a warning.
    assert out.metrics == {"follower_count": 2}
    assert out.unreadable == ["reach"]
    assert any("reach" in w and "cannot read" in w for w in out.warnings)


def test_instagram_time_series_of_a_plain_count_is_summed() -> None:
    series = [{**rec.IG_INSIGHTS_SERIES["data"][1], "name": "likes"}]
    out = instagram.normalise(rec.IG_NODE, series, ["likes"])
    assert out.metrics == {"follower_count": 2, "likes": 500}


def test_instagram_node_without_followers_and_no_insights_is_broken() -> None:
    with pytest.raises(PlatformBroken, match="followers_count"):
        instagram.normalise({"id": "1", "username": "a"}, [], [])


def test_instagram_node_without_followers_keeps_the_insights() -> None:
    series = [{**rec.IG_INSIGHTS_SERIES["data"][1], "name": "likes"}]
    out = instagram.normalise({"id": "1", "username": "a"}, series, ["likes"])
    assert out.metrics == {"likes": 500}
    assert any("followers_count" in w for w in out.warnings)


def test_facebook_page_counters_and_daily_sum() -> None:
    out = facebook.normalise(rec.FB_PAGE, rec.FB_INSIGHTS["data"], ["page_views_total"])
    assert out.metrics == {
        "followers_count": 320,
        "talking_about_count": 2,
        "were_here_count": 0,
        "checkins": 0,
        "page_views_total": 10,
    }
    assert out.handle == "AirbyteHQ"
    assert out.warnings == []


def test_facebook_absent_fields_are_warned_not_zeroed() -> None:
    out = facebook.normalise(rec.FB_PAGE_BARE, [], ["page_views_total"])
    assert out.metrics == {}
    assert out.handle == "Smriti"
    assert any("followers_count" in w for w in out.warnings)
    assert any("page_views_total" in w for w in out.warnings)


def test_facebook_page_consumptions_is_documented_not_requested() -> None:
    assert "page_consumptions" not in facebook.INSIGHT_METRICS
    assert "page_consumptions" in (facebook.__doc__ or "")


def test_x_docs_example() -> None:
    out = x.normalise(rec.X_DOCS_USER)
    assert out.metrics == {
        "followers_count": 583423,
        "following_count": 2048,
        "tweet_count": 14052,
        "listed_count": 1672,
    }
    assert (out.handle, out.platform_account_id) == ("XDevelopers", "2244994945")


def test_x_post_count_also_fills_tweet_count_and_optional_fields() -> None:
    body = {
        "data": {
            "id": "1",
            "username": "u",
            "verified_followers_count": 7,
            "public_metrics": {
                "followers_count": 1,
                "following_count": 2,
                "post_count": 3,
                "listed_count": 4,
                "like_count": 5,
                "media_count": None,
            },
        }
    }
    out = x.normalise(body)
    assert out.metrics == {
        "followers_count": 1,
        "following_count": 2,
        "post_count": 3,
        "tweet_count": 3,
        "listed_count": 4,
        "like_count": 5,
        "verified_followers_count": 7,
    }


def test_x_reply_without_public_metrics_is_broken() -> None:
    with pytest.raises(PlatformBroken, match="public_metrics"):
        x.normalise(rec.X_TWEEPY_ME)


def test_linkedin_organization_keys_follow_the_contract() -> None:
    out = linkedin.normalise_organization(
        rec.LI_NETWORK_SIZES, rec.LI_GAINS, rec.LI_PAGES, "urn:li:organization:1"
    )
    assert out.metrics == {
        "follower_statistics_first_degree_size": 0,
        "follower_statistics_follower_gains_organic_follower_gain": 3,
        "follower_statistics_follower_gains_paid_follower_gain": 1,
        # Unique counts are per day and can't be summed over the window: left out (docs/platforms.md,
        # LinkedIn).
        "page_statistics_views_all_page_views_page_views": 17,
        "page_statistics_views_all_desktop_page_views_page_views": 12,
        "page_statistics_views_all_mobile_page_views_page_views": 5,
        "page_statistics_views_careers_page_views_page_views": 2,
        "page_statistics_clicks_careers_page_clicks_careers_page_jobs_clicks": 1,
    }
    assert out.warnings == []


def test_linkedin_small_org_has_no_window_data() -> None:
    empty = {"paging": {"start": 0, "count": 10, "links": []}, "elements": []}
    out = linkedin.normalise_organization({"firstDegreeSize": 4}, empty, empty, "urn:li:organization:1")
    assert out.metrics == {"follower_statistics_first_degree_size": 4}
    assert len(out.warnings) == 2


def test_linkedin_member() -> None:
    out = linkedin.normalise_member(rec.LI_MEMBER, "urn:li:person:abc")
    assert out.metrics == {"follower_statistics_member_followers_count": 100}


@pytest.mark.parametrize(
    ("given", "urn"),
    [
        ("2414183", "urn:li:organization:2414183"),
        ("urn:li:organization:2414183", "urn:li:organization:2414183"),
        (" urn:li:organization:7 ", "urn:li:organization:7"),
        ("urn:li:person:AbC-12_x", "urn:li:person:AbC-12_x"),
    ],
)
def test_linkedin_account_ids_are_normalised(given: str, urn: str) -> None:
    assert linkedin.parse_account_id(given).urn == urn


@pytest.mark.parametrize(
    "bad", ["", "urn:li:organization:", "urn:li:organization:abc", "urn:li:share:1", "org/1"]
)
def test_linkedin_bad_account_ids_are_integration_bugs(bad: str) -> None:
    from adapters.errors import IntegrationBug

    with pytest.raises(IntegrationBug):
        linkedin.parse_account_id(bad)


def test_tiktok_mirror_example() -> None:
    out = tiktok.normalise(rec.TT_MIRROR_USER)
    assert out.metrics == {"follower_count": 100, "following_count": 10, "likes_count": 50, "video_count": 5}
    assert out.handle == "User Name"
    assert out.platform_account_id == "723f24d7-e717-40f8-a2b6-cb8464cd23b4"


def test_tiktok_reply_without_stats_is_broken() -> None:
    with pytest.raises(PlatformBroken, match="TikTok stats"):
        tiktok.normalise(rec.TT_DOC_USER)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "not an integer"),
        ("1,520", "not an integer"),
        (1.5, "not an integer"),
        (-1, "negative"),
        (10**13 + 1, "implausibly large"),
        (None, "not an integer"),
    ],
)
def test_bad_counter_values_are_classified(value: object, message: str) -> None:
    body = {
        "data": {
            "user": {
                "open_id": "o",
                "follower_count": value,
                "following_count": 1,
                "likes_count": 1,
                "video_count": 1,
            }
        },
        "error": {"code": "ok"},
    }
    # One unreadable counter never fails the sync: it is left out and named (docs/platforms.md).
    out = tiktok.normalise(body)
    assert "follower_count" not in out.metrics
    assert out.metrics == {"following_count": 1, "likes_count": 1, "video_count": 1}
    assert out.unreadable == ["follower_count"]
    assert any("follower_count" in w for w in out.warnings)
    with pytest.raises(PlatformBroken, match=message):
        as_count(value, "TikTok follower_count")
