"""`dravo-sync capacity`: the table, --json, and its figures against the formulas and the simulation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from typer.testing import CliRunner

from bench import freshness_scenario
from ops.capacity.model import platform_capacity
from ops.capacity.scenario import DEFAULT_LATENCY, PlatformLoad, Scenario
from ops.capacity.simulation import simulate
from ops.cli.command import load_commands
from ops.foundation import platforms as platform_registry
from worker.budget import PlatformBudget, Rate

FIRST = platform_registry.PLATFORMS[0]


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(load_commands(), ["capacity", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_json_figures_follow_the_formulas() -> None:
    out = _invoke(
        "--accounts", f"{FIRST.name}=1000", "--cpu-ms-per-sync", "10", "--cores-per-host", "4", "--json"
    )
    data = json.loads(out)
    row = data["platforms"][0]
    interval = 21_600 * (1 - 0.15 - 0.05 / 2) + 2.5  # shipped freshness, margin, jitter, tick
    calls, seconds = (int(v) for v in FIRST.app_budget.split("/"))
    # The calls a sync really makes (the registry's calls_per_sync), not the dispatcher's estimate.
    assert row["calls_per_day"] == pytest.approx(1000 / interval * FIRST.typical_calls_per_sync * 86_400)
    assert row["app_quota_per_day"] == pytest.approx(calls / seconds * 86_400)
    assert data["worker_cores"] == pytest.approx(data["syncs_per_second"] * 10 / 1000)
    assert FIRST.name in data["binds_first"]


def test_a_real_quota_moves_the_binding_limit_and_the_table_says_so() -> None:
    tight = _invoke("--accounts", f"{FIRST.name}=100000", "--cpu-ms-per-sync", "7")
    assert "Binds first" in tight and "exceeded first" in tight
    roomy = json.loads(
        _invoke(
            "--accounts",
            f"{FIRST.name}=100000",
            "--quota",
            f"{FIRST.name}=100000000/3600",
            "--cpu-ms-per-sync",
            "7",
            "--json",
        )
    )
    assert roomy["platforms"][0]["stale_share"] == 0.0
    assert "reached first" in roomy["binds_first"]


def test_bad_input_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(load_commands(), ["capacity", "--accounts", "myspace=3"])
    assert result.exit_code == 2
    assert "PLATFORM=VALUE" in result.output


def test_the_default_latency_is_the_freshness_scenarios() -> None:
    expected = freshness_scenario.LATENCY
    assert (DEFAULT_LATENCY.p50, DEFAULT_LATENCY.p99) == (expected.p50, expected.p99)
    assert (DEFAULT_LATENCY.tail_share, DEFAULT_LATENCY.tail) == (expected.tail_share, expected.tail)


@pytest.mark.parametrize(("accounts", "expected_stale"), [(300, 0.7), (40, 0.0)])
def test_the_model_agrees_with_the_simulation(
    redis_client: redis.Redis, accounts: int, expected_stale: float
) -> None:
    # A small bucket (30 calls per 20 s: 0.75 syncs/s at the 2 calls a sync makes; the dispatcher
    # still plans with its estimate of 3) so the start-up burst is over within a minute; 120 s
    # freshness: 300 accounts need more than the budget (R F / N = 0.3 fresh), 40 need less.
    shipped = PlatformLoad.shipped(FIRST.name, accounts, timedelta(seconds=120))
    budget = PlatformBudget(Rate(30, 20), shipped.budget.user)
    load = PlatformLoad(accounts, shipped.freshness, budget, shipped.calls_per_sync)
    scenario = Scenario({FIRST.name: load}, timedelta(minutes=15), DEFAULT_LATENCY)
    assert (load.calls_per_sync, FIRST.estimated_calls_per_sync) == (2, 3)
    model = platform_capacity(scenario, FIRST.name)
    result = simulate(scenario, redis_client)
    simulated = result.stale_shares(300, result.seconds)
    assert model.stale_share == pytest.approx(expected_stale, abs=0.01)
    assert sum(simulated) / len(simulated) == pytest.approx(model.stale_share, abs=0.05)
    assert result.calls_per_day(FIRST.name) == pytest.approx(
        model.syncs_per_second * load.calls_per_sync * 86_400, rel=0.15
    )
