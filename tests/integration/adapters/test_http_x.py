"""X over HTTP against the simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.base import AccountRef, Credentials
from adapters.errors import (
    OperatorActionNeeded,
    PlatformBroken,
    PlatformError,
    RateLimited,
    ReconnectRequired,
)
from simulator.catalog import simulated
from simulator.state import MALFORMED_KINDS
from tests.integration.adapters.sim_harness import Harness

X = simulated("x").default_counters


def test_healthy_keys_values_and_rate_headers(h: Harness) -> None:
    h.seed("x", "2244", handle="XDevelopers")
    result = h.fetch("x", "2244")
    assert dict(result.metrics) == X
    assert (result.handle, result.platform_account_id, result.calls, result.complete) == (
        "XDevelopers",
        "2244",
        1,
        True,
    )
    [observation] = h.budget.observations
    assert observation.remaining == 74
    assert observation.reset_at is not None and observation.reset_at > h.now


def test_post_count_is_understood(h: Harness) -> None:
    h.seed("x", "2245", params={"post_count": True})
    result = h.fetch("x", "2245")
    assert result.metrics["post_count"] == result.metrics["tweet_count"] == X["tweet_count"]


def test_expired_token_is_refreshed_with_rotation_stored_before_use(h: Harness) -> None:
    h.seed("x", "2246", scenario="expired_token", refresh_token="rt-old", scopes=["offline.access"])
    result = h.fetch("x", "2246", refresh_token="rt-old")
    assert dict(result.metrics) == X
    assert result.calls == 3  # 401, refresh, 200
    [(_, stored, seen)] = h.sink.stored
    assert seen == {"users/me": 1, "oauth2/token": 1}  # the new token was not used before store()
    live = h.sim.account("x", "2246")
    assert (stored.access_token, stored.refresh_token) == (live["access_token"], live["refresh_token"])
    assert stored.refresh_token != "rt-old"
    assert stored.expires_at is not None and stored.expires_at > h.now + timedelta(hours=1)


def test_refresh_ahead_of_expiry(h: Harness) -> None:
    h.seed("x", "2247", refresh_token="rt-1", token_expires_in=60)
    result = h.fetch("x", "2247", refresh_token="rt-1", expires_at=h.now + timedelta(minutes=1))
    assert result.calls == 2
    assert h.counts("x", "2247") == {"oauth2/token": 1, "users/me": 1}


def test_spent_refresh_token_means_reconnect(h: Harness) -> None:
    h.seed("x", "2248", scenario="expired_token", refresh_token="rt-a")
    h.fetch("x", "2248", refresh_token="rt-a")
    h.sim.set_scenario("x", "2248", "expired_token")
    with pytest.raises(ReconnectRequired):
        h.fetch("x", "2248", refresh_token="rt-a")  # the rotated-away token


def test_401_right_after_a_refresh_means_reconnect(h: Harness) -> None:
    h.seed("x", "2249", scenario="expired_token", refresh_token="rt-b")
    original_store = h.sink.store

    def revoke_then_store(account: AccountRef, credentials: Credentials) -> None:
        original_store(account, credentials)
        h.sim.set_scenario("x", "2249", "revoked_token")

    h.sink.store = revoke_then_store  # type: ignore[method-assign]
    with pytest.raises(ReconnectRequired, match="right after a refresh"):
        h.fetch("x", "2249", refresh_token="rt-b")


def test_a_public_client_without_secret_is_the_operators_problem(h: Harness) -> None:
    # docs/platforms.md, open question 7: reconnecting fixes nothing when the service can never renew X
    # tokens.
    h.seed("x", "2250", scenario="expired_token", refresh_token="rt-c")
    adapter = h.adapter("x", client_secret=None)
    assert not adapter.can_refresh(AccountRef("a", "x", "2250"), Credentials("t", "rt-c"))
    with pytest.raises(OperatorActionNeeded, match="no client secret"):
        h.fetch("x", "2250", refresh_token="rt-c", adapter=adapter)
    assert h.counts("x", "2250") == {"users/me": 1}


def test_no_client_configured_is_still_a_reconnect(h: Harness) -> None:
    h.seed("x", "2260", scenario="expired_token", refresh_token="rt-e")
    adapter = h.adapter("x", client_id=None, client_secret=None)
    with pytest.raises(ReconnectRequired):
        h.fetch("x", "2260", refresh_token="rt-e", adapter=adapter)


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("expired_token", ReconnectRequired),  # no refresh token held
        ("revoked_token", ReconnectRequired),
        ("missing_permission", ReconnectRequired),
        ("client_forbidden", OperatorActionNeeded),
        ("unsupported_authentication", OperatorActionNeeded),
        ("credits_depleted", OperatorActionNeeded),
        ("usage_capped", OperatorActionNeeded),
    ],
)
def test_error_scenarios(h: Harness, scenario: str, expected: type[PlatformError]) -> None:
    h.seed("x", "2251", scenario=scenario)
    with pytest.raises(PlatformError) as caught:
        h.fetch("x", "2251")
    assert type(caught.value) is expected
    assert "at-x" not in caught.value.message


def test_revoked_with_refresh_token_means_reconnect(h: Harness) -> None:
    h.seed("x", "2252", scenario="revoked_token", refresh_token="rt-d")
    with pytest.raises(ReconnectRequired):
        h.fetch("x", "2252", refresh_token="rt-d")
    assert h.counts("x", "2252") == {"users/me": 1, "oauth2/token": 1}


def test_rate_limited_uses_the_reset_header_and_is_not_retried(h: Harness) -> None:
    h.seed("x", "2253", scenario="rate_limited", params={"reset_seconds": 300})
    with pytest.raises(RateLimited) as caught:
        h.fetch("x", "2253")
    assert h.now + timedelta(minutes=4) < caught.value.retry_at <= h.now + timedelta(minutes=6)
    assert caught.value.limit == "X user rate limit"
    assert h.counts("x", "2253") == {"users/me": 1}


def test_503_then_200_is_two_calls_one_result(h: Harness) -> None:
    h.seed("x", "2254", scenario="flaky", params={"fail_count": 1})
    result = h.fetch("x", "2254")
    assert dict(result.metrics) == X
    assert result.calls == 2 == h.counts("x", "2254")["users/me"]


def test_persistent_503_is_platform_broken_after_three_attempts(h: Harness) -> None:
    h.seed("x", "2255", scenario="flaky", params={"fail_count": 5})
    with pytest.raises(PlatformBroken) as caught:
        h.fetch("x", "2255")
    assert caught.value.calls == 3 == h.counts("x", "2255")["users/me"]


def test_retired_field_gives_a_partial_result_and_is_remembered(h: Harness) -> None:
    h.seed("x", "2256", scenario="retired_metric", params={"metric": "verified_followers_count"})
    result = h.fetch("x", "2256")
    assert dict(result.metrics) == {k: v for k, v in X.items() if k != "verified_followers_count"}
    assert result.complete is False
    assert result.calls == 2
    assert h.catalog.memory(AccountRef("acc_2256", "x", "2256")).refused == {"verified_followers_count"}
    again = h.fetch("x", "2256")
    # Not asked again for this account; the row stays partial so the last value is carried.
    assert (again.calls, again.complete) == (1, False)
    assert any("verified_followers_count" in w and "last value kept" in w for w in again.warnings)


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_malformed_replies_are_platform_broken(h: Harness, kind: str) -> None:
    h.seed("x", "2257", scenario="malformed", params={"kind": kind})
    with pytest.raises(PlatformBroken):
        h.fetch("x", "2257")
