"""The simulator's platform-wide outage switch and its timestamped request log."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from simulator.client import SimulatorClient, SimulatorError


@pytest.fixture
def raw(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=5) as client:
        yield client


def _x_me(raw: httpx.Client, token: str) -> httpx.Response:
    return raw.get("/x/2/users/me", headers={"Authorization": f"Bearer {token}"})


def _tiktok_info(raw: httpx.Client, token: str) -> httpx.Response:
    return raw.get(
        "/tiktok/v2/user/info/",
        params={"fields": "follower_count"},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_outage_fails_one_platform_for_a_time_window(sim: SimulatorClient, raw: httpx.Client) -> None:
    x_token = sim.upsert_account("x", "1")["access_token"]
    tt_token = sim.upsert_account("tiktok", "2")["access_token"]
    until = sim.set_outage("x", 0.6)
    assert until is not None and until > time.time()
    assert sim.health()["outages"] == {"x": until}

    assert _x_me(raw, x_token).status_code == 503
    assert _x_me(raw, x_token).status_code == 503
    assert _tiktok_info(raw, tt_token).status_code == 200  # other platforms are untouched
    time.sleep(0.7)
    assert _x_me(raw, x_token).status_code == 200  # over by itself
    assert sim.health()["outages"] == {}
    assert sim.request_counts("x", "1") == {"users/me": 3}


def test_outage_can_be_ended_early_and_is_cleared_by_reset(sim: SimulatorClient, raw: httpx.Client) -> None:
    token = sim.upsert_account("tiktok", "3")["access_token"]
    sim.set_outage("tiktok", 60)
    failed = _tiktok_info(raw, token)
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal_error"
    assert sim.set_outage("tiktok", 0) is None
    assert _tiktok_info(raw, token).status_code == 200
    sim.set_outage("tiktok", 60)
    sim.reset()
    token = sim.upsert_account("tiktok", "3")["access_token"]
    assert _tiktok_info(raw, token).status_code == 200


def test_outage_rejects_unknown_platforms_and_bad_durations(sim: SimulatorClient) -> None:
    with pytest.raises(SimulatorError, match="422"):
        sim.set_outage("myspace", 10)
    with pytest.raises(SimulatorError, match="422"):
        sim.set_outage("x", -1)


def test_request_log_has_arrival_times_and_filters(sim: SimulatorClient, raw: httpx.Client) -> None:
    token = sim.upsert_account("x", "9")["access_token"]
    other = sim.upsert_account("tiktok", "8")["access_token"]
    start = time.time()
    _x_me(raw, token)
    _tiktok_info(raw, other)
    _x_me(raw, "not-a-token")
    middle = time.time()
    _x_me(raw, token)

    log = sim.request_log()
    assert [(r["platform"], r["platform_account_id"], r["endpoint"]) for r in log] == [
        ("x", "9", "users/me"),
        ("tiktok", "8", "user/info"),
        ("x", "_unknown", "users/me"),
        ("x", "9", "users/me"),
    ]
    assert all(start <= r["at"] <= time.time() for r in log)
    assert [r["at"] for r in log] == sorted(r["at"] for r in log)
    assert len(sim.request_log("x", "9")) == 2
    assert len(sim.request_log("x", "9", since=middle)) == 1
    assert sim.request_log("tiktok") == [log[1]]
    sim.reset()
    assert sim.request_log() == []
