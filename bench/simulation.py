"""python -m bench simulation: the scheduler's policy simulated (ops.capacity), at the soak's scale and at 1,000,000.

1. The freshness scenario (bench/freshness_scenario.py, the one the real soak runs): the same
   figures the soak reports, and the comparison with the soak's when bench/results/freshness.json
   exists.
2. 1,000,000 accounts (a fifth per platform) for 48 simulated hours at the shipped freshness and
   budgets: stale share, calls per day against the quotas, worker slots and CPU (measured CPU per
   sync from bench/results/throughput.json).
`--quick` runs only the first and keeps the last run's figures of the second.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from typing import Any

import redis

from bench import freshness_scenario as fs
from bench.report import RESULTS, save
from ops.capacity.model import Measured, capacity
from ops.capacity.scenario import CallLatency, Outage, PlatformLoad, Scenario
from ops.capacity.simulation import SimulationResult, percentile_50, simulate, summary
from ops.foundation import platforms as platform_registry
from worker.budget import PlatformBudget, Rate

# Database 15: no other benchmark or test uses it (14 is the scheduler benchmark's, which flushes it).
REDIS_URL = os.environ.get("DRAVO_SIMULATION_REDIS_URL", "redis://127.0.0.1:6379/15")
MILLION = 1_000_000
MILLION_HOURS = 48  # `--hours N` shortens it: 48 h takes over an hour on a busy 2-core machine


def million_hours() -> float:
    for arg in sys.argv:
        if arg.startswith("--hours="):
            return float(arg.removeprefix("--hours="))
    return MILLION_HOURS


MILLION_ERROR_RATE = 0.01
# Agreement the comparison asks of the soak and the simulation.
MARGIN_STALE_POINTS = 0.02  # stale share, absolute
MARGIN_RATIO = 0.15  # calls and drain time, relative


def latency() -> CallLatency:
    return CallLatency(fs.LATENCY.p50, fs.LATENCY.p99, fs.LATENCY.tail_share, fs.LATENCY.tail)


def freshness_scenario() -> Scenario:
    budgets = fs.budgets()
    loads = {
        p: PlatformLoad(
            accounts=n,
            freshness=fs.FRESHNESS,
            budget=PlatformBudget(Rate.parse(budgets[p][0], p), Rate.parse(budgets[p][1], p)),
            calls_per_sync=platform_registry.spec(p).estimated_calls_per_sync,
        )
        for p, n in fs.ACCOUNTS_PER_PLATFORM.items()
    }
    return Scenario(
        platforms=loads,
        duration=fs.RUN,
        latency=latency(),
        outages=(Outage(fs.OUTAGE_PLATFORM, fs.OUTAGE_START, fs.OUTAGE_LENGTH),),
        steady_start=True,  # as the soak starts (bench.freshness.steady_start)
    )


def million_scenario() -> Scenario:
    each = MILLION // len(platform_registry.PLATFORMS)
    loads = {
        s.name: PlatformLoad(
            **{**PlatformLoad.shipped(s.name, each).__dict__, "error_rate": MILLION_ERROR_RATE}
        )
        for s in platform_registry.PLATFORMS
    }
    return Scenario(
        platforms=loads,
        duration=timedelta(hours=million_hours()),
        latency=latency(),
        sample_every=timedelta(minutes=1),
    )


def freshness_figures(result: SimulationResult) -> dict[str, Any]:
    """The soak's figures: stale share over the steady part, drain after the outage, calls vs budget."""
    warm = fs.WARM_UP.total_seconds()
    start = fs.OUTAGE_START.total_seconds()
    end = start + fs.OUTAGE_LENGTH.total_seconds()
    before = result.stale_shares(warm, start, fs.OUTAGE_PLATFORM)
    drain = result.drain_seconds(fs.OUTAGE_PLATFORM, end, max(before, default=0.0))
    after = end + (drain if drain is not None else result.seconds)
    steady = result.stale_shares(warm, start) + result.stale_shares(after, result.seconds)
    # The soak's summary keys (bench/freshness.py), so the two compare key by key.
    return {
        "steady_stale_share_p50": percentile_50(steady),
        "steady_stale_share_max": max(steady, default=float("nan")),
        "drain_seconds": drain,
        "calls": {
            p: {
                "median_per_minute": percentile_50(result.calls_per_minute(p, warm, result.seconds + 1)),
                # Reads come in waves (accounts imported together stay within the jitter of each
                # other), so the median minute can be empty: the mean is the load on the budget.
                "mean_per_minute": _mean(result.calls_per_minute(p, warm, result.seconds + 1)),
                "budget_app_per_minute": load.budget.app.calls * 60 / load.budget.app.seconds,
            }
            for p, load in result.scenario.platforms.items()
        },
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def measured() -> Measured:
    record = json.loads((RESULTS / "throughput.json").read_text())
    celery = record["data"]["celery"]
    return Measured(
        cpu_ms_per_sync=float(celery["cpu_ms_per_sync"]),
        concurrency=32,
        cores_per_host=int(record["machine"]["cpus"]),
    )


def soak_figures() -> dict[str, Any] | None:
    path = RESULTS / "freshness.json"
    if not path.exists():
        return None
    summary: dict[str, Any] = json.loads(path.read_text())["data"]["summary"]
    return summary


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _secs(value: float | None) -> str:
    return "not drained" if value is None else f"{value:.0f} s"


def _comparison(sim: dict[str, Any], soak: dict[str, Any] | None) -> str:
    if soak is None:
        return (
            "The soak's figures (`python -m bench freshness`, bench/results/freshness.json) were not "
            "there when this ran; re-run this benchmark after the soak to get the comparison table."
        )
    rows = []
    for key, label in (
        ("steady_stale_share_p50", "stale share p50"),
        ("steady_stale_share_max", "stale share max"),
    ):
        a, b = soak.get(key), sim[key]
        ok = a is not None and abs(a - b) <= MARGIN_STALE_POINTS
        rows.append(
            f"| {label} | {_pct(a)} | {_pct(b)} | ±{100 * MARGIN_STALE_POINTS:.0f} points | {'yes' if ok else 'no'} |"
        )
    a, b = soak.get("drain_seconds"), sim["drain_seconds"]
    ok = a is not None and b is not None and abs(a - b) <= MARGIN_RATIO * max(a, b, 1)
    rows.append(
        f"| drain after the outage | {_secs(a)} | {_secs(b)} | ±{100 * MARGIN_RATIO:.0f} % | {'yes' if ok else 'no'} |"
    )
    for p, figures in sim["calls"].items():
        real = (soak.get("calls") or {}).get(p, {}).get("median_per_minute")
        mine = figures["median_per_minute"]
        ok = real is not None and abs(real - mine) <= MARGIN_RATIO * max(real, mine, 1e-9)
        shown = "n/a" if real is None else f"{real:,.0f}/min"
        rows.append(
            f"| {p} calls (median) | {shown} | {mine:,.0f}/min | ±{100 * MARGIN_RATIO:.0f} % | {'yes' if ok else 'no'} |"
        )
    return "| figure | soak | simulation | margin | within |\n| --- | --- | --- | --- | --- |\n" + "\n".join(
        rows
    )


def run() -> dict[str, Any]:
    quick = "--quick" in sys.argv
    client = redis.Redis.from_url(REDIS_URL)
    small = simulate(freshness_scenario(), client)
    figures = freshness_figures(small)
    data: dict[str, Any] = {"freshness": {**figures, **summary(small)}}
    print(f"freshness scenario: {small.wall_seconds:.0f} s wall, {figures}", flush=True)
    sections = [_freshness_markdown(figures, small, soak_figures())]
    if quick:
        # Keep the last million-account run's figures (it takes many minutes).
        previous = RESULTS / "simulation.json"
        if previous.exists():
            kept = json.loads(previous.read_text())["data"].get("million")
            if kept:
                data["million"] = kept
    else:
        data["million"] = _million_data(simulate(million_scenario(), client))
    if "million" in data:
        sections.append(_million_markdown(data["million"]))
    client.close()
    save("simulation", "python -m bench simulation", "\n\n".join(sections), data)
    return data


def _freshness_markdown(
    figures: dict[str, Any], result: SimulationResult, soak: dict[str, Any] | None
) -> str:
    calls = "\n".join(
        f"| {p} | {c['mean_per_minute']:,.0f}/min | {c['median_per_minute']:,.0f}/min | "
        f"{c['budget_app_per_minute']:,.0f}/min | {100 * c['mean_per_minute'] / c['budget_app_per_minute']:.0f} % |"
        for p, c in figures["calls"].items()
    )
    accounts = sum(load.accounts for load in result.scenario.platforms.values())
    return f"""## 9. Simulated scheduling: the freshness scenario and a million accounts

`ops.capacity.simulation` (docs/capacity.md) drives the production dispatcher tick
(`worker.dispatch.dispatch_tick`), the production token-bucket scripts (`worker.budget`, on a real
Redis with a virtual clock) and the production outcome and schedule functions on a virtual clock;
only the platforms and the worker pool are simulated.

**The freshness scenario** (bench/freshness_scenario.py: {accounts:,} accounts, time compressed
{fs.TIME_COMPRESSION}x, {fs.FRESHNESS.total_seconds() / 60:.0f}-minute freshness, a
{fs.OUTAGE_LENGTH.total_seconds() / 60:.0f}-minute {fs.OUTAGE_PLATFORM} outage at minute
{fs.OUTAGE_START.total_seconds() / 60:.0f}), simulated in {result.wall_seconds:.0f} s of real time:
stale share over the steady part (after minute {fs.WARM_UP.total_seconds() / 60:.0f}, outside the
outage and its drain) p50 {_pct(figures["steady_stale_share_p50"])}, max {_pct(figures["steady_stale_share_max"])}; the
{fs.OUTAGE_PLATFORM} backlog drained {_secs(figures["drain_seconds"])} after the outage ended
(its stale share at or below its pre-outage maximum from then on); {result.syncs_per_second():.1f} syncs/s,
{result.mean_in_flight():.1f} in flight on average.

| platform | calls per minute (mean, after the warm-up) | median minute | app budget | mean / budget |
| --- | --- | --- | --- | --- |
{calls}

Soak (real workers, `python -m bench freshness`) against the simulation:

{_comparison(figures, soak)}"""


def _million_data(result: SimulationResult) -> dict[str, Any]:
    day = 86_400.0
    # The later half (the second day of 48 h), and never before one freshness period has passed.
    freshness = max(load.freshness.total_seconds() for load in result.scenario.platforms.values())
    late = max(result.seconds / 2, freshness)
    model = capacity(result.scenario, measured())
    m = measured()
    return {
        **summary(result),
        "hours": result.seconds / 3600,
        "late_from_hours": late / 3600,
        "stale_late_p50": percentile_50(result.stale_shares(late, result.seconds)),
        "stale_late_max": max(result.stale_shares(late, result.seconds), default=float("nan")),
        "stale_by_platform": {
            p: percentile_50(result.stale_shares(late, result.seconds, p)) for p in result.scenario.platforms
        },
        "calls_per_day": {p: result.calls_per_day(p) for p in result.scenario.platforms},
        "quota_per_day": {
            p: load.budget.app.calls * day / load.budget.app.seconds
            for p, load in result.scenario.platforms.items()
        },
        "model_stale": {r.platform: r.stale_share for r in model.platforms},
        "cpu_ms_per_sync": m.cpu_ms_per_sync,
        "worker_cores": result.syncs_per_second() * m.cpu_ms_per_sync / 1000,
    }


def _million_markdown(data: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {p} | {data['calls_per_day'][p]:,.0f} | {data['quota_per_day'][p]:,.0f} | "
        f"{_pct(data['stale_by_platform'][p])} | {_pct(data['model_stale'][p])} |"
        for p in data["calls_per_day"]
    )
    return f"""**{MILLION:,} accounts, {data["hours"]:.0f} simulated hours** (a fifth per platform, the shipped
6-hour freshness and budgets, {100 * MILLION_ERROR_RATE:.0f} % of syncs failing), simulated in
{data["wall_seconds"] / 60:.1f} minutes of real time on the shared machine. From hour
{data["late_from_hours"]:.0f} on, the stale share of all accounts was p50 {_pct(data["stale_late_p50"])},
max {_pct(data["stale_late_max"])}.
{data["syncs_per_second"]:.1f} syncs/s; {data["mean_in_flight"]:.0f} syncs in flight on average
(peak {data["peak_in_flight"]:,}, the start-up burst); at the measured {data["cpu_ms_per_sync"]:.2f} ms
of worker CPU per sync that is {data["worker_cores"]:.2f} cores of workers.

| platform | calls/day (simulated) | app quota/day | stale share p50, later part | model's stale share |
| --- | --- | --- | --- | --- |
{rows}

The shipped app budgets, not the workers, bind first: see `dravo-sync capacity` for the quotas a
freshness needs."""
