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
from bench.freshness import quartiles
from bench.report import RESULTS, save
from ops.capacity.model import Measured, capacity
from ops.capacity.scenario import CallLatency, Outage, PlatformLoad, Scenario, Workers, setting_default
from ops.capacity.simulation import SimulationResult, percentile_50, simulate, summary
from ops.foundation import platforms as platform_registry
from ops.testing.ranks import spearman
from worker.budget import PlatformBudget, Rate

# Database 15: no other benchmark or test uses it (14 is the scheduler benchmark's, which flushes it).
REDIS_URL = os.environ.get("DRAVO_SIMULATION_REDIS_URL", "redis://127.0.0.1:6379/15")
MILLION = 1_000_000
MILLION_HOURS = 48  # `--hours N` shortens it; 48 h: about 4 minutes on a 2-core machine (docs/capacity.md)


def million_hours() -> float:
    for n, arg in enumerate(sys.argv):
        if arg.startswith("--hours="):
            return float(arg.removeprefix("--hours="))
        if arg == "--hours" and n + 1 < len(sys.argv):
            return float(sys.argv[n + 1])
    return MILLION_HOURS


MILLION_ERROR_RATE = 0.01
# Agreement the comparison asks of the soak and the simulation.
MARGIN_STALE_POINTS = 0.02  # stale share, absolute
MARGIN_RATIO = 0.15  # calls and drain time, relative
MARGIN_QUEUE = 50  # median queue depth per platform, messages (the batch size is 500)
MARGIN_RANK = 0.2  # the stalest-first Spearman rank correlation, absolute


def latency() -> CallLatency:
    return CallLatency(fs.LATENCY.p50, fs.LATENCY.p99, fs.LATENCY.tail_share, fs.LATENCY.tail)


def freshness_scenario() -> Scenario:
    budgets = fs.budgets()
    loads = {
        p: PlatformLoad(
            accounts=n,
            freshness=fs.FRESHNESS,
            budget=PlatformBudget(Rate.parse(budgets[p][0], p), Rate.parse(budgets[p][1], p)),
            calls_per_sync=platform_registry.spec(p).typical_calls_per_sync,
        )
        for p, n in fs.ACCOUNTS_PER_PLATFORM.items()
    }
    return Scenario(
        platforms=loads,
        duration=fs.RUN,
        latency=latency(),
        outages=(Outage(fs.OUTAGE_PLATFORM, fs.OUTAGE_START, fs.OUTAGE_LENGTH),),
        steady_start=True,  # as the soak starts (bench.freshness.steady_start)
        workers=soak_workers(),
    )


def soak_workers() -> Workers:
    """The soak's pool: `dravo-sync worker` with the shipped defaults on the soak's machine, at
    the worker CPU per sync the throughput benchmark measured."""
    cores = int(os.cpu_count() or 1)
    soak = RESULTS / "freshness.json"
    if soak.exists():
        cores = int(json.loads(soak.read_text())["machine"]["cpus"])
    return Workers.shipped(cores, measured().cpu_ms_per_sync / 1000)


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
    """The soak's figures (bench/freshness.py's summary keys, so the two compare key by key):
    stale share over the steady part, drain after the outage, calls vs budget, queue depth,
    and the order the outage backlog was re-read in."""
    warm = fs.WARM_UP.total_seconds()
    start = fs.OUTAGE_START.total_seconds()
    end = start + fs.OUTAGE_LENGTH.total_seconds()
    platform = fs.OUTAGE_PLATFORM
    before = result.stale_shares(warm, start, platform)
    drain = result.drain_seconds(platform, end, max(before, default=0.0))
    after = end + (drain if drain is not None else result.seconds)
    steady = result.stale_shares(warm, start) + result.stale_shares(after, result.seconds)
    rereads = result.rereads.get(platform, [])
    reread = [(o, r) for o, r in rereads if r is not None]
    return {
        "steady_stale_share_p50": percentile_50(steady),
        "steady_stale_share_max": max(steady, default=float("nan")),
        "drain_seconds": drain,
        "queue_p50_steady": {
            p: percentile_50(
                [
                    float(q)
                    for q in result.queued(p, warm, start) + result.queued(p, after, result.seconds + 1)
                ]
            )
            for p in result.scenario.platforms
        },
        "stale_at_outage_end": len(rereads),
        "reread_after_outage": len(reread),
        # The more overdue at the outage's end, the sooner re-read: 1.0 = strictly stalest first.
        "stalest_first_spearman": -spearman([o for o, _ in reread], [r for _, r in reread]),
        "reread_by_overdue_quartile_p50": quartiles(sorted(reread, key=lambda pair: -pair[0])),
        "outage_platform_calls_before": percentile_50(result.calls_per_minute(platform, warm, start)),
        "outage_platform_calls_drain": percentile_50(result.calls_per_minute(platform, end, after)),
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
        concurrency=int(setting_default("worker_concurrency")),
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


def _row(label: str, soak: float | None, sim: float | None, shown: Any, margin: str, ok: bool) -> str:
    return f"| {label} | {shown(soak)} | {shown(sim)} | {margin} | {'yes' if ok else 'no'} |"


def _relative(a: float | None, b: float | None) -> bool:
    return (
        a is not None and b is not None and a == a and b == b and abs(a - b) <= MARGIN_RATIO * max(a, b, 1e-9)
    )


def _absolute(a: float | None, b: float | None, margin: float) -> bool:
    return a is not None and b is not None and a == a and b == b and abs(a - b) <= margin


def _per_minute(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:,.0f}/min"


def _count(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:,.0f}"


def _rank(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.2f}"


def comparison_rows(sim: dict[str, Any], soak: dict[str, Any]) -> list[tuple[str, bool]]:
    """(table row, within the margin) for every figure both report."""
    ratio = f"±{100 * MARGIN_RATIO:.0f} %"
    rows = []
    for key, label in (
        ("steady_stale_share_p50", "stale share p50"),
        ("steady_stale_share_max", "stale share max"),
    ):
        a, b = soak.get(key), sim[key]
        ok = _absolute(a, b, MARGIN_STALE_POINTS)
        rows.append((_row(label, a, b, _pct, f"±{100 * MARGIN_STALE_POINTS:.0f} points", ok), ok))
    a, b = soak.get("drain_seconds"), sim["drain_seconds"]
    ok = _relative(a, b)
    rows.append((_row(f"{fs.OUTAGE_PLATFORM} drain after the outage", a, b, _secs, ratio, ok), ok))
    for p, figures in sim["calls"].items():
        a, b = (soak.get("calls") or {}).get(p, {}).get("median_per_minute"), figures["median_per_minute"]
        ok = _relative(a, b)
        rows.append((_row(f"{p} calls (median)", a, b, _per_minute, ratio, ok), ok))
    for p, b in sim["queue_p50_steady"].items():
        a = (soak.get("queue_p50_steady") or {}).get(p)
        ok = _absolute(a, b, MARGIN_QUEUE)
        rows.append((_row(f"{p} queue depth (median)", a, b, _count, f"±{MARGIN_QUEUE} messages", ok), ok))
    a, b = soak.get("stalest_first_spearman"), sim["stalest_first_spearman"]
    ok = _absolute(a, b, MARGIN_RANK)
    rows.append((_row("stalest first (Spearman)", a, b, _rank, f"±{MARGIN_RANK}", ok), ok))
    return rows


def _comparison(sim: dict[str, Any], soak: dict[str, Any] | None) -> str:
    if soak is None:
        return (
            "The soak's figures (`python -m bench freshness`, bench/results/freshness.json) were not "
            "there when this ran; re-run this benchmark after the soak to get the comparison table."
        )
    rows = comparison_rows(sim, soak)
    agree = sum(ok for _, ok in rows)
    return (
        "| figure | soak | simulation | margin | within |\n| --- | --- | --- | --- | --- |\n"
        + "\n".join(row for row, _ in rows)
        + f"\n\n{agree} of {len(rows)} figures within their margins."
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
    workers = result.scenario.workers
    pool = (
        "an unbounded worker pool"
        if workers is None
        else f"the soak's worker pool ({workers.processes} processes x {workers.concurrency} slots, "
        f"{1000 * workers.cpu_per_sync_seconds:.2f} ms of CPU per sync on {workers.cores:.0f} cores: "
        f"at most {workers.max_syncs_per_second:,.0f} syncs/s)"
    )
    out = result.counts[fs.OUTAGE_PLATFORM]
    depths = ", ".join(f"{p} {v:,.0f}" for p, v in figures["queue_p50_steady"].items())
    quart = " / ".join(f"{v:.0f} s" for v in figures["reread_by_overdue_quartile_p50"]) or "n/a"
    calls_per_sync = ", ".join(f"{p} {load.calls_per_sync}" for p, load in result.scenario.platforms.items())
    return f"""## 9. Simulated scheduling: the freshness scenario and a million accounts

`ops.capacity.simulation` (docs/capacity.md) drives the production dispatcher tick
(`worker.dispatch.dispatch_tick`), the production token-bucket and outage-hold scripts
(`worker.budget`, `worker.outage`, on a real Redis with a virtual clock) and the production
outcome and schedule functions on a virtual clock; only the platforms and the worker pool are
simulated. A sync makes the calls the adapters make (the registry's `calls_per_sync`: {calls_per_sync}).

**The freshness scenario** (bench/freshness_scenario.py: {accounts:,} accounts, time compressed
{fs.TIME_COMPRESSION}x, {fs.FRESHNESS.total_seconds() / 60:.0f}-minute freshness, a
{fs.OUTAGE_LENGTH.total_seconds() / 60:.0f}-minute {fs.OUTAGE_PLATFORM} outage at minute
{fs.OUTAGE_START.total_seconds() / 60:.0f}) with {pool}, simulated in {result.wall_seconds:.0f} s of real time:
stale share over the steady part (after minute {fs.WARM_UP.total_seconds() / 60:.0f}, outside the
outage and its drain) p50 {_pct(figures["steady_stale_share_p50"])}, max {_pct(figures["steady_stale_share_max"])}; the
{fs.OUTAGE_PLATFORM} backlog drained {_secs(figures["drain_seconds"])} after the outage ended
(its stale share at or below its pre-outage maximum from then on); {result.syncs_per_second():.1f} syncs/s,
{result.mean_in_flight():.1f} in flight on average. Median queue depth in the steady part: {depths}.
The outage started {out.holds} hold(s) on {fs.OUTAGE_PLATFORM} ({out.held} queued syncs refused by a
hold, {out.failed} failed on the 5xx); {figures["reread_after_outage"]:,} of the {figures["stale_at_outage_end"]:,}
accounts stale at its end were re-read within the run, stalest first with a Spearman rank
correlation of {_rank(figures["stalest_first_spearman"])} (1 = strictly stalest first); median seconds to
re-read by quarter, most overdue first: {quart}.

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
6-hour freshness and budgets, {100 * MILLION_ERROR_RATE:.0f} % of syncs failing, an unbounded worker
pool whose slots are measured), simulated in
{data["wall_seconds"] / 60:.1f} minutes of real time on the shared machine
({data["hours"] / max(data["wall_seconds"] / 60, 1e-9):.1f} simulated hours per minute). From hour
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
