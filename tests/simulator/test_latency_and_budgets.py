"""The simulator's latency distribution and its enforced per-app and per-token budgets."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from simulator.client import SimulatorClient, SimulatorError
from simulator.latency import LatencyDistribution


@pytest.fixture
def raw(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def _tiktok(raw: httpx.Client, token: str) -> httpx.Response:
    return raw.get(
        "/tiktok/v2/user/info/",
        params={"fields": "follower_count"},
        headers={"Authorization": f"Bearer {token}"},
    )


def _x(raw: httpx.Client, token: str) -> httpx.Response:
    return raw.get("/x/2/users/me", headers={"Authorization": f"Bearer {token}"})


def test_draws_have_the_distributions_percentiles_and_tail() -> None:
    dist = LatencyDistribution(p50_ms=180, p99_ms=1200, tail_share=0.005, tail_ms=4000, seed=7)
    draws = [dist.draw_ms() for _ in range(50_000)]
    body = [d for d in draws if d != 4000]
    cuts = statistics.quantiles(body, n=100)
    # p50 and p99 describe the lognormal body; the tail comes on top of it.
    assert cuts[49] == pytest.approx(180, rel=0.05)
    assert cuts[98] == pytest.approx(1200, rel=0.08)
    assert (len(draws) - len(body)) / len(draws) == pytest.approx(0.005, abs=0.0015)
    again = LatencyDistribution(p50_ms=180, p99_ms=1200, tail_share=0.005, tail_ms=4000, seed=7)
    assert [again.draw_ms() for _ in range(100)] == draws[:100]  # seeded: repeatable


def test_calls_wait_for_a_draw_from_the_distribution(sim: SimulatorClient, raw: httpx.Client) -> None:
    token = sim.upsert_account("tiktok", "lat-1")["access_token"]
    sim.set_latency_distribution(200, 400, seed=3)
    expected = LatencyDistribution(200, 400, seed=3).draw_ms() / 1000
    started = time.monotonic()
    assert _tiktok(raw, token).status_code == 200
    assert time.monotonic() - started >= expected * 0.95
    assert sim.health()["latency_distribution"]["p99_ms"] == 400
    sim.set_latency(0)  # a fixed latency replaces the distribution
    assert sim.health()["latency_distribution"] is None


def test_latency_body_is_validated(sim: SimulatorClient, raw: httpx.Client) -> None:
    for body in (
        {},
        {"latency_ms": 1, "p50_ms": 1, "p99_ms": 2},
        {"p50_ms": 10},
        {"p50_ms": 10, "p99_ms": 5},
    ):
        assert raw.put("/_admin/latency", json=body).status_code == 422, body


def test_app_budget_refuses_with_the_platforms_reply(sim: SimulatorClient, raw: httpx.Client) -> None:
    tokens = [sim.upsert_account("tiktok", f"tt-{i}")["access_token"] for i in range(2)]
    sim.set_budgets({"tiktok": {"app": "3/60"}})
    assert [_tiktok(raw, tokens[i % 2]).status_code for i in range(3)] == [200, 200, 200]
    refused = _tiktok(raw, tokens[1])
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    counts = sim.budgets()["tiktok"]
    assert (counts["app"], counts["admitted"], counts["refused_app"], counts["refused_user"]) == (
        "3/60",
        3,
        1,
        0,
    )


def test_user_budget_is_per_token_and_refills(sim: SimulatorClient, raw: httpx.Client) -> None:
    a = sim.upsert_account("x", "41")["access_token"]
    b = sim.upsert_account("x", "42")["access_token"]
    sim.set_budgets({"x": {"user": "2/1"}})  # two calls a second per token
    assert [_x(raw, a).status_code for _ in range(2)] == [200, 200]
    refused = _x(raw, a)
    assert refused.status_code == 429
    assert refused.headers["x-rate-limit-remaining"] == "0"
    assert int(refused.headers["x-rate-limit-reset"]) >= int(time.time())
    assert _x(raw, b).status_code == 200  # another token has its own bucket
    time.sleep(0.6)  # one token refilled (2 per second)
    assert _x(raw, a).status_code == 200
    assert sim.budgets()["x"]["refused_user"] == 1


def test_meta_and_linkedin_refusals_and_lifting_a_budget(sim: SimulatorClient, raw: httpx.Client) -> None:
    ig = sim.upsert_account("instagram", "9")["access_token"]
    li = sim.upsert_account("linkedin", "5")["access_token"]
    sim.set_budgets({"instagram": {"user": "1/60"}, "linkedin": {"app": "1/60"}})
    auth = {"Authorization": f"Bearer {ig}"}
    assert (
        raw.get("/instagram/v24.0/9", headers=auth, params={"fields": "followers_count"}).status_code == 200
    )
    meta = raw.get("/instagram/v24.0/9", headers=auth, params={"fields": "followers_count"})
    assert meta.json()["error"]["code"] == 80002
    assert "x-business-use-case-usage" in meta.headers
    li_url = "/linkedin/rest/networkSizes/urn%3Ali%3Aorganization%3A5?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
    li_headers = {
        "Authorization": f"Bearer {li}",
        "LinkedIn-Version": sim.health()["versions"]["linkedin"],
        "X-Restli-Protocol-Version": "2.0.0",
    }
    assert raw.get(li_url, headers=li_headers).status_code == 200
    assert raw.get(li_url, headers=li_headers).status_code == 429
    sim.set_budgets({"linkedin": {"app": None}})
    assert raw.get(li_url, headers=li_headers).status_code == 200


def test_budgets_are_validated_and_cleared_by_reset(sim: SimulatorClient) -> None:
    with pytest.raises(SimulatorError, match="422"):
        sim.set_budgets({"myspace": {"app": "1/1"}})
    with pytest.raises(SimulatorError, match="422"):
        sim.set_budgets({"x": {"app": "lots"}})
    with pytest.raises(SimulatorError, match="422"):
        sim.set_budgets({"x": {"hourly": "1/1"}})
    sim.set_budgets({"x": {"app": "1/1"}})
    sim.reset()
    assert sim.budgets()["x"]["app"] is None
