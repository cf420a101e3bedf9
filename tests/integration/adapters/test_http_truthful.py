"""Truthful reads (docs/platforms.md) over real sockets against the simulator: the replies as the platforms
send them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.errors import OperatorActionNeeded, ReconnectRequired
from simulator.catalog import simulated
from tests.integration.adapters.sim_harness import Harness

FB = simulated("facebook").default_counters
IG = simulated("instagram").default_counters
LI = simulated("linkedin").default_counters
FB_COUNTERS = {k: FB[k] for k in ("followers_count", "talking_about_count", "were_here_count", "checkins")}


def test_facebook_reactions_by_type_are_summed_and_the_page_is_synced(h: Harness) -> None:
    h.seed("facebook", "3101")
    result = h.fetch("facebook", "3101")
    # The simulator answers each day as an object by reaction type, as Page Insights does.
    assert result.metrics["page_actions_post_reactions_total"] == FB["page_actions_post_reactions_total"] * 28
    assert (result.complete, result.warnings) == (True, ())


def test_facebook_page_without_read_insights_is_partial_with_its_basic_metrics(h: Harness) -> None:
    h.seed("facebook", "3102", scenario="no_insights_permission")
    result = h.fetch("facebook", "3102")
    assert dict(result.metrics) == FB_COUNTERS
    assert result.complete is False
    assert "Facebook Page insight metrics unavailable: reconnect and grant read_insights." in result.warnings
    assert h.counts("facebook", "3102") == {"page": 1, "insights": 1}  # no bisecting a permission


@pytest.mark.parametrize(
    ("auth", "permission"),
    [("instagram", "instagram_business_manage_insights"), ("facebook", "instagram_manage_insights")],
)
def test_instagram_without_insights_permission_is_partial(h: Harness, auth: str, permission: str) -> None:
    h.seed("instagram", "3103", scenario="missing_permission")
    result = h.fetch("instagram", "3103", auth=auth)  # type: ignore[arg-type]
    assert dict(result.metrics) == {"follower_count": IG["followers_count"]}
    assert result.complete is False
    assert f"Instagram insight metrics unavailable: reconnect and grant {permission}." in result.warnings


def test_facebook_missing_page_permission_is_still_a_reconnect(h: Harness) -> None:
    h.seed("facebook", "3104", scenario="missing_permission")
    with pytest.raises(ReconnectRequired):
        h.fetch("facebook", "3104")


def test_linkedin_statistics_refused_keeps_the_follower_count(h: Harness) -> None:
    org = "urn:li:organization:3105"
    h.seed("linkedin", org, scenario="no_statistics_permission")
    result = h.fetch("linkedin", org)
    assert dict(result.metrics) == {"follower_statistics_first_degree_size": LI["first_degree_size"]}
    assert result.complete is False
    assert any("rw_organization_admin" in w for w in result.warnings)


def test_instagram_token_without_expiry_learns_it_from_the_first_refresh(h: Harness) -> None:
    h.seed("instagram", "3106")
    result = h.fetch("instagram", "3106", unknown_expiry=True)
    assert result.complete is True
    assert h.counts("instagram", "3106")["refresh_access_token"] == 1
    (stored,) = h.sink.stored
    assert stored[1].expires_at is not None
    assert stored[1].expires_at > h.now + timedelta(days=59)


def test_linkedin_token_without_expiry_learns_it_from_the_first_refresh(h: Harness) -> None:
    org = "urn:li:organization:3107"
    h.seed("linkedin", org, refresh_token="li-rt")
    h.fetch("linkedin", org, refresh_token="li-rt", unknown_expiry=True)
    assert h.counts("linkedin", org).get("oauth/v2/accessToken") == 1
    assert h.sink.stored[-1][1].expires_at is not None


def test_facebook_tokens_have_no_refresh_to_learn_from(h: Harness) -> None:
    h.seed("facebook", "3108")
    h.fetch("facebook", "3108", unknown_expiry=True)
    assert h.sink.stored == []


@pytest.mark.parametrize("platform", ["instagram", "facebook"])
def test_a_sunset_graph_version_is_the_operators_problem(h: Harness, platform: str) -> None:
    h.seed(platform, "3109")  # type: ignore[arg-type]
    adapter = h.adapter(platform, api_version="v20.0")  # type: ignore[arg-type]  # ended 2026-09-24
    with pytest.raises(OperatorActionNeeded) as caught:
        h.fetch(platform, "3109", adapter=adapter)  # type: ignore[arg-type]
    assert caught.value.cause == "api_version"


def test_a_sunset_linkedin_version_is_the_operators_problem(h: Harness) -> None:
    org = "urn:li:organization:3110"
    h.seed("linkedin", org)
    adapter = h.adapter("linkedin", api_version="202511")  # sunset 2026-11-16
    with pytest.raises(OperatorActionNeeded) as caught:
        h.fetch("linkedin", org, adapter=adapter)
    assert caught.value.cause == "api_version"


@pytest.mark.parametrize("platform", ["instagram", "facebook"])
def test_app_without_advanced_access_fails_for_the_operator(h: Harness, platform: str) -> None:
    h.seed(platform, "3111", scenario="app_not_approved")  # type: ignore[arg-type]
    with pytest.raises(OperatorActionNeeded) as caught:
        h.fetch(platform, "3111")  # type: ignore[arg-type]
    assert "platform setup of this service needs attention" in caught.value.message
