"""Shared transport behaviour: budget, timeouts, unreachable hosts, the registry and client helper."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from adapters.base import PLATFORMS, AccountRef, BudgetObservation, NoBudget
from adapters.errors import PlatformBroken, RateLimited
from adapters.http import RetryPolicy, build_http_client
from adapters.registry import build_adapter, build_adapters
from tests.integration.adapters.sim_harness import FAST_RETRY, Harness


class ExhaustedBudget(NoBudget):
    def acquire(self, account: AccountRef, calls: int = 1) -> None:
        raise RateLimited("shared budget exhausted", account_retry_at, limit="X app budget")

    def observe(self, account: AccountRef, observation: BudgetObservation) -> None:
        raise AssertionError("no reply, nothing to observe")


account_retry_at = __import__("datetime").datetime(2030, 1, 1, tzinfo=__import__("datetime").UTC)


def test_budget_is_asked_before_every_call(h: Harness) -> None:
    h.seed("linkedin", "urn:li:organization:1")
    result = h.fetch("linkedin", "urn:li:organization:1")
    assert h.budget.acquired == result.calls == 3


def test_exhausted_budget_stops_the_call_before_it_leaves(h: Harness) -> None:
    h.seed("x", "1")
    h.budget = ExhaustedBudget()  # type: ignore[assignment]
    with pytest.raises(RateLimited) as caught:
        h.fetch("x", "1")
    assert caught.value.calls == 0
    assert h.counts("x", "1") == {}


def test_slow_platform_times_out_after_the_attempts(h: Harness) -> None:
    h.seed("tiktok", "slow", scenario="slow", params={"latency_ms": 600})
    with httpx.Client(timeout=httpx.Timeout(0.15, connect=1.0)) as impatient:
        h.http = impatient
        adapter = h.adapter("tiktok", retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, jitter=0))
        with pytest.raises(PlatformBroken, match="did not answer in time") as caught:
            h.fetch("tiktok", "slow", adapter=adapter)
    assert caught.value.calls == 2


def test_unreachable_platform_is_platform_broken(h: Harness) -> None:
    adapter = build_adapter(h.config("x", api_base="http://127.0.0.1:9"), h.http, retry=FAST_RETRY)
    with pytest.raises(PlatformBroken, match="could not reach X") as caught:
        h.fetch("x", "1", adapter=adapter)
    assert caught.value.calls == 3


def test_registry_builds_every_platform(h: Harness) -> None:
    adapters = build_adapters([h.config(p) for p in PLATFORMS], h.http)
    assert {p: a.platform for p, a in adapters.items()} == {p: p for p in PLATFORMS}
    assert build_adapters({p: h.config(p) for p in PLATFORMS}, h.http).keys() == adapters.keys()


def test_build_http_client_applies_the_settings() -> None:
    with build_http_client(12.0, 3.0, 50) as client:
        assert client.timeout == httpx.Timeout(12.0, connect=3.0)


def test_refresh_ahead_failure_does_not_block_the_read(h: Harness) -> None:
    # The refresh token is unknown (refresh fails: reconnect) -> the error surfaces;
    # a transient refresh failure would have been logged and the old token used.
    h.seed("x", "2", refresh_token="real")
    with pytest.raises(Exception, match="reconnect"):
        h.fetch("x", "2", refresh_token="stale", expires_at=h.now + timedelta(minutes=1))
