"""LinkedIn and TikTok over HTTP against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import AccountRef
from adapters.errors import IntegrationBug, PlatformBroken, PlatformError, RateLimited, ReconnectRequired
from simulator.catalog import simulated
from simulator.state import MALFORMED_KINDS
from tests.integration.adapters.sim_harness import Harness

LI = simulated("linkedin").default_counters
TT = simulated("tiktok").default_counters
DAYS = 28
ORG = "urn:li:organization:2414183"
LI_METRICS = {
    "follower_statistics_first_degree_size": LI["first_degree_size"],
    "follower_statistics_follower_gains_organic_follower_gain": LI["organic_follower_gain"] * DAYS,
    "follower_statistics_follower_gains_paid_follower_gain": LI["paid_follower_gain"] * DAYS,
    "page_statistics_views_all_page_views_page_views": (LI["desktop_page_views"] + LI["mobile_page_views"])
    * DAYS,
    # uniquePageViews is sent per day but unique counts don't add up over days: left out.
    "page_statistics_views_all_desktop_page_views_page_views": LI["desktop_page_views"] * DAYS,
    "page_statistics_views_all_mobile_page_views_page_views": LI["mobile_page_views"] * DAYS,
    "page_statistics_views_careers_page_views_page_views": LI["careers_page_views"] * DAYS,
    "page_statistics_views_about_page_views_page_views": LI["about_page_views"] * DAYS,
    "page_statistics_clicks_careers_page_clicks_careers_page_jobs_clicks": LI["careers_page_jobs_clicks"]
    * DAYS,
}
LI_ENDPOINTS = {
    "networkSizes": 1,
    "organizationalEntityFollowerStatistics": 1,
    "organizationPageStatistics": 1,
}


@pytest.mark.parametrize("given", [ORG, "2414183"])
def test_linkedin_organization_healthy(h: Harness, given: str) -> None:
    h.seed("linkedin", ORG, access_token="li-token")
    result = h.fetch("linkedin", given, token="li-token")
    assert dict(result.metrics) == LI_METRICS
    assert (result.platform_account_id, result.calls, result.complete) == (ORG, 3, True)
    assert h.counts("linkedin", ORG) == LI_ENDPOINTS


def test_linkedin_member(h: Harness) -> None:
    h.seed("linkedin", "urn:li:person:Ab12", scopes=["r_member_profileAnalytics"])
    result = h.fetch("linkedin", "urn:li:person:Ab12")
    assert dict(result.metrics) == {
        "follower_statistics_member_followers_count": LI["member_followers_count"]
    }
    assert result.calls == 1


def test_linkedin_member_without_the_scope_must_reconnect(h: Harness) -> None:
    h.seed("linkedin", "urn:li:person:Cd34", scopes=["rw_organization_admin"])
    with pytest.raises(ReconnectRequired):
        h.fetch("linkedin", "urn:li:person:Cd34")


def test_linkedin_expired_token_refreshes_with_a_partner_refresh_token(h: Harness) -> None:
    h.seed("linkedin", ORG, scenario="expired_token", refresh_token="li-rt")
    result = h.fetch("linkedin", ORG, refresh_token="li-rt")
    assert dict(result.metrics) == LI_METRICS
    [(_, stored, seen)] = h.sink.stored
    assert seen == {"networkSizes": 1, "oauth/v2/accessToken": 1}
    assert stored.refresh_token == "li-rt"  # LinkedIn does not rotate refresh tokens
    assert stored.refresh_expires_at is not None
    assert result.calls == 5


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("expired_token", ReconnectRequired),  # no refresh token
        ("revoked_token", ReconnectRequired),
        ("invalid_token", ReconnectRequired),
        ("missing_permission", ReconnectRequired),
    ],
)
def test_linkedin_error_scenarios(h: Harness, scenario: str, expected: type[PlatformError]) -> None:
    h.seed("linkedin", ORG, scenario=scenario)
    with pytest.raises(PlatformError) as caught:
        h.fetch("linkedin", ORG)
    assert type(caught.value) is expected


def test_linkedin_revoked_refresh_token_means_reconnect(h: Harness) -> None:
    h.seed("linkedin", ORG, scenario="expired_token", refresh_token="other")
    with pytest.raises(ReconnectRequired):
        h.fetch("linkedin", ORG, refresh_token="li-rt2")  # unknown to LinkedIn
    assert h.counts("linkedin", "_unknown") == {"oauth/v2/accessToken": 1}


def test_linkedin_quota_waits_until_midnight_utc(h: Harness) -> None:
    h.seed("linkedin", ORG, scenario="rate_limited")
    with pytest.raises(RateLimited) as caught:
        h.fetch("linkedin", ORG)
    midnight = datetime.combine(h.now.date() + timedelta(days=1), datetime.min.time(), UTC)
    assert caught.value.retry_at == midnight
    assert caught.value.calls == 1


def test_linkedin_sunset_version_is_an_integration_bug(h: Harness) -> None:
    h.seed("linkedin", ORG)
    with pytest.raises(IntegrationBug, match="DRAVO_LINKEDIN_API_VERSION"):
        h.fetch("linkedin", ORG, adapter=h.adapter("linkedin", api_version="202301"))


def test_linkedin_small_org_is_partial(h: Harness) -> None:
    h.seed("linkedin", ORG, scenario="no_insights")
    result = h.fetch("linkedin", ORG)
    assert dict(result.metrics) == {"follower_statistics_first_degree_size": LI["first_degree_size"]}
    assert result.complete is False


def test_linkedin_500_then_200(h: Harness) -> None:
    h.seed("linkedin", ORG, scenario="flaky", params={"fail_count": 1})
    result = h.fetch("linkedin", ORG)
    assert result.calls == 4
    assert h.counts("linkedin", ORG) == {**LI_ENDPOINTS, "networkSizes": 2}


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_linkedin_malformed(h: Harness, kind: str) -> None:
    h.seed("linkedin", ORG, scenario="malformed", params={"kind": kind})
    with pytest.raises(PlatformBroken):
        h.fetch("linkedin", ORG)


def test_tiktok_healthy(h: Harness) -> None:
    h.seed("tiktok", "723f", handle="dravo.tt")
    result = h.fetch("tiktok", "723f")
    assert dict(result.metrics) == TT
    assert (result.platform_account_id, result.handle, result.calls) == ("723f", "Dravo Tt", 1)


def test_tiktok_username_only_with_the_profile_scope(h: Harness) -> None:
    scopes = ("user.info.basic", "user.info.profile", "user.info.stats")
    h.seed("tiktok", "7240", handle="dravo.tt", scopes=list(scopes))
    assert h.fetch("tiktok", "7240", scopes=scopes).handle == "dravo.tt"


def test_tiktok_without_stats_scope_must_reconnect(h: Harness) -> None:
    h.seed("tiktok", "7241", scopes=["user.info.basic"])
    with pytest.raises(ReconnectRequired):
        h.fetch("tiktok", "7241")


def test_tiktok_refresh_rotates_and_the_old_refresh_token_dies(h: Harness) -> None:
    h.seed("tiktok", "7242", scenario="expired_token", refresh_token="rft-old")
    result = h.fetch("tiktok", "7242", refresh_token="rft-old")
    assert dict(result.metrics) == TT
    assert result.calls == 3
    [(_, stored, seen)] = h.sink.stored
    assert seen == {"user/info": 1, "oauth/token": 1}
    assert stored.refresh_token not in (None, "rft-old")
    assert stored.refresh_token == h.sim.account("tiktok", "7242")["refresh_token"]
    assert stored.refresh_expires_at is not None
    h.sim.set_scenario("tiktok", "7242", "expired_token")
    with pytest.raises(ReconnectRequired):
        h.fetch("tiktok", "7242", token=stored.access_token, refresh_token="rft-old")


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("expired_token", ReconnectRequired),
        ("revoked_token", ReconnectRequired),
        ("missing_permission", ReconnectRequired),
        ("invalid_params", IntegrationBug),
    ],
)
def test_tiktok_error_scenarios(h: Harness, scenario: str, expected: type[PlatformError]) -> None:
    h.seed("tiktok", "7243", scenario=scenario, refresh_token="rft" if scenario == "revoked_token" else None)
    with pytest.raises(PlatformError) as caught:
        h.fetch("tiktok", "7243", refresh_token="rft" if scenario == "revoked_token" else None)
    assert type(caught.value) is expected


def test_tiktok_rate_limited(h: Harness) -> None:
    h.seed("tiktok", "7244", scenario="rate_limited")
    with pytest.raises(RateLimited) as caught:
        h.fetch("tiktok", "7244")
    assert caught.value.retry_at == h.now + timedelta(minutes=1)


def test_tiktok_500_then_200_is_two_calls_one_result(h: Harness) -> None:
    h.seed("tiktok", "7245", scenario="flaky", params={"fail_count": 1})
    result = h.fetch("tiktok", "7245")
    assert (dict(result.metrics), result.calls) == (TT, 2)


def test_tiktok_retired_field_is_partial(h: Harness) -> None:
    h.seed("tiktok", "7246", scenario="retired_metric", params={"metric": "likes_count"})
    result = h.fetch("tiktok", "7246")
    assert dict(result.metrics) == {k: v for k, v in TT.items() if k != "likes_count"}
    assert (result.complete, result.calls) == (False, 2)
    # Remembered for this account only (docs/worker.md, "The metric catalog"): a retirement needs two
    # workspaces.
    assert h.catalog.memory(AccountRef("acc_7246", "tiktok", "7246")).refused == {"likes_count"}
    assert h.catalog.memory(AccountRef("acc_other", "tiktok", "other")).skipped() == frozenset()


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_tiktok_malformed(h: Harness, kind: str) -> None:
    h.seed("tiktok", "7247", scenario="malformed", params={"kind": kind})
    with pytest.raises(PlatformBroken):
        h.fetch("tiktok", "7247")
