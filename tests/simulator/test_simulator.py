"""The simulator on its own: admin API, request validation with real errors, 404s, standalone run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator.client import SimulatorClient, SimulatorError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def raw(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=5) as client:
        yield client


def test_health_lists_versions_and_scenarios(sim: SimulatorClient) -> None:
    health = sim.health()
    assert health["versions"]["linkedin"].isdigit()
    assert "rate_limited" in health["scenarios"]["x"]


def test_upsert_get_scenario_and_counts(sim: SimulatorClient, raw: httpx.Client) -> None:
    state = sim.upsert_account("x", "42", counters={"followers_count": 7})
    token = state["access_token"]
    reply = raw.get(
        "/x/2/users/me",
        params={"user.fields": "public_metrics"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.json()["data"]["public_metrics"]["followers_count"] == 7
    assert sim.request_counts("x", "42") == {"users/me": 1}
    sim.set_scenario("x", "42", "rate_limited", reset_seconds=60)
    limited = raw.get("/x/2/users/me", headers={"Authorization": f"Bearer {token}"})
    assert limited.status_code == 429
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert sim.account("x", "42")["scenario"] == "rate_limited"


def test_admin_rejects_unknown_platforms_and_scenarios(sim: SimulatorClient) -> None:
    with pytest.raises(SimulatorError):
        sim.upsert_account("myspace", "1")
    sim.upsert_account("tiktok", "1")
    with pytest.raises(SimulatorError):
        sim.set_scenario("tiktok", "1", "usage_capped")


def test_counters_move_over_time(sim: SimulatorClient) -> None:
    state = sim.upsert_account(
        "tiktok", "g", counters={"follower_count": 100}, growth_per_hour={"follower_count": 3.6e6}
    )
    time.sleep(0.01)
    assert sim.account("tiktok", "g")["counters"]["follower_count"] > state["counters"]["follower_count"]


def test_unmodelled_paths_are_404(raw: httpx.Client) -> None:
    for path in ("/nowhere", "/x/2/tweets", "/tiktok/v2/user/info", "/linkedin/v2/me", "/instagram"):
        assert raw.get(path).status_code == 404, path


def test_linkedin_requires_version_and_protocol_headers(sim: SimulatorClient, raw: httpx.Client) -> None:
    token = sim.upsert_account("linkedin", "5")["access_token"]
    url = "/linkedin/rest/networkSizes/urn%3Ali%3Aorganization%3A5?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
    auth = {"Authorization": f"Bearer {token}"}
    assert raw.get(url, headers=auth).json()["code"] == "VERSION_MISSING"
    old = raw.get(url, headers={**auth, "LinkedIn-Version": "202001", "X-Restli-Protocol-Version": "2.0.0"})
    assert (old.status_code, old.json()["code"]) == (426, "NONEXISTENT_VERSION")
    v = sim.health()["versions"]["linkedin"]
    no_protocol = raw.get(url, headers={**auth, "LinkedIn-Version": v})
    assert no_protocol.status_code == 400
    ok = raw.get(url, headers={**auth, "LinkedIn-Version": v, "X-Restli-Protocol-Version": "2.0.0"})
    assert ok.json() == {"firstDegreeSize": 1200}


def test_instagram_insights_validation(sim: SimulatorClient, raw: httpx.Client) -> None:
    token = sim.upsert_account("instagram", "9")["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    now = int(time.time())
    no_type = raw.get(
        "/instagram/v24.0/9/insights", headers=auth, params={"metric": "reach,views", "period": "day"}
    ).json()["error"]
    assert "metric_type=total_value" in no_type["message"]
    too_long = raw.get(
        "/instagram/v24.0/9/insights",
        headers=auth,
        params={
            "metric": "reach",
            "period": "day",
            "metric_type": "total_value",
            "since": now - 40 * 86400,
            "until": now,
        },
    ).json()["error"]
    assert "30 days" in too_long["message"]
    retired = raw.get(
        "/instagram/v24.0/9/insights",
        headers=auth,
        params={"metric": "reach,impressions", "period": "day", "metric_type": "total_value"},
    )
    assert retired.status_code == 400
    assert retired.json()["error"]["message"].startswith("(#100) metric[1] must be one of")
    bad_token = raw.get("/instagram/v24.0/9", params={"access_token": "nope"}).json()["error"]
    assert bad_token["code"] == 190


def test_facebook_never_accepts_page_consumptions(sim: SimulatorClient, raw: httpx.Client) -> None:
    token = sim.upsert_account("facebook", "3")["access_token"]
    reply = raw.get(
        "/facebook/v24.0/3/insights",
        headers={"Authorization": f"Bearer {token}"},
        params={"metric": "page_consumptions", "period": "day"},
    )
    assert reply.json()["error"]["message"] == "(#100) The value must be a valid insights metric"


def test_x_refresh_rotates_and_reuse_revokes_the_family(sim: SimulatorClient, raw: httpx.Client) -> None:
    sim.upsert_account("x", "7", refresh_token="r1")
    form = {"grant_type": "refresh_token", "refresh_token": "r1", "client_id": "c"}
    first = raw.post("/x/2/oauth2/token", data=form, auth=("c", "s")).json()
    assert first["refresh_token"] != "r1"
    again = raw.post("/x/2/oauth2/token", data=form, auth=("c", "s"))
    assert again.json()["error"] == "invalid_request"
    assert sim.account("x", "7")["scenario"] == "revoked_token"


def test_latency_is_configurable(sim: SimulatorClient, raw: httpx.Client) -> None:
    token = sim.upsert_account("tiktok", "lat", latency_ms=150)["access_token"]
    started = time.monotonic()
    raw.get(
        "/tiktok/v2/user/info/", params={"fields": "open_id"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert time.monotonic() - started >= 0.14


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_runs_standalone_and_stops_on_signals(sig: signal.Signals) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--latency-ms", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/_admin/health", timeout=1).json()["ok"] is True
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
