"""Benchmark: the staleness soak. Real processes, the freshness scenario, 36 minutes.

`bench/freshness_scenario.py` describes the scenario (20,000 accounts, time compressed 30x,
the latency distribution, a TikTok outage). Here it runs for real: the simulator in its own
process (latency drawn from the distribution, the compressed budgets enforced per app and per
token), `dravo-sync worker` and `dravo-sync beat` with their shipped defaults except
DRAVO_FRESHNESS_SECONDS and the budgets. Accounts start in steady state: each was last read a
uniformly random time ago within one sync interval, and is scheduled as the worker would have.

Every ~10 s it samples the share of accounts past `stale_after`, each platform queue's depth
(LLEN) and the simulator's per-platform counts of calls served and refused. After the outage it
reads, from the snapshots, when each TikTok account left stale by the outage was read again.

`python -m bench freshness` (about 40 minutes); `--quick` (2,000 accounts, 6 minutes, a 1-minute
outage) while developing: printed, not saved to docs/benchmarks.md.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis
from cryptography.fernet import Fernet

from bench import freshness_scenario as scenario
from bench.database import bench_database, libpq
from bench.report import RESULTS, ROOT, median, save
from bench.throughput import make_accounts, seed_database, seed_simulator
from ops.foundation import platforms as platform_registry
from ops.testing.processes import ManagedProcess, simulator_env, start_cli, start_simulator
from ops.testing.ranks import spearman
from simulator.client import SimulatorClient

QUICK = "--quick" in sys.argv or os.environ.get("DRAVO_BENCH_QUICK", "") not in ("", "0")
PLATFORMS = tuple(spec.name for spec in platform_registry.PLATFORMS)
QUEUES = {spec.name: spec.queue for spec in platform_registry.PLATFORMS}
PER_PLATFORM = 400 if QUICK else scenario.ACCOUNTS_PER_PLATFORM[PLATFORMS[0]]
RUN_SECONDS = 360.0 if QUICK else scenario.RUN.total_seconds()
OUTAGE_START = 120.0 if QUICK else scenario.OUTAGE_START.total_seconds()
OUTAGE_SECONDS = 60.0 if QUICK else scenario.OUTAGE_LENGTH.total_seconds()
WARM_UP = 60.0 if QUICK else scenario.WARM_UP.total_seconds()
FRESHNESS = int(scenario.FRESHNESS.total_seconds())
SAMPLE_SECONDS = 10.0
STALE_TARGET = 0.001  # the target: under 0.1 % of accounts past stale_after
REDIS_URL = os.environ.get("DRAVO_BENCH_FRESHNESS_REDIS_URL", "redis://127.0.0.1:6379/11")
PLOT = ROOT / "docs" / "img" / "freshness.png"


@dataclass
class Sample:
    t: float  # seconds since beat was ready
    stale: dict[str, int]  # platform -> accounts past stale_after
    queued: dict[str, int]  # platform -> LLEN of its queue
    calls: dict[str, int]  # platform -> API calls the simulator served so far
    refused: dict[str, int]  # platform -> calls refused by an enforced budget so far
    load: float = float("nan")  # the machine's 1-minute load average (it is shared)


@dataclass
class Soak:
    accounts: dict[str, int]
    samples: list[Sample] = field(default_factory=list)
    # TikTok accounts stale when the outage ended: seconds overdue then, seconds until re-read.
    drain: list[tuple[float, float | None]] = field(default_factory=list)
    outage_end_t: float = 0.0


# --- setup ----------------------------------------------------------------------------------


def worker_env(database_url: str, base_url: str, key: str) -> dict[str, str]:
    budgets = scenario.budgets()
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "DRAVO_ENCRYPTION_KEY": key,
        "DRAVO_WORKER_METRICS_PORT": "0",
        "DRAVO_FRESHNESS_SECONDS": str(FRESHNESS),
        **simulator_env(base_url),
        **{f"DRAVO_{p.upper()}_APP_BUDGET": budgets[p][0] for p in PLATFORMS},
        **{f"DRAVO_{p.upper()}_USER_BUDGET": budgets[p][1] for p in PLATFORMS},
    }


def steady_start(url: str) -> None:
    """Each account last read a uniform random time ago within one sync interval, and planned as
    worker.schedule would (freshness * (1 - margin) minus up to freshness * jitter, shipped values)."""
    interval = FRESHNESS * 0.85
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(
            """
            WITH r AS (SELECT account_id, random() * %(interval)s AS age,
                              random() * %(jitter)s AS jitter FROM account_sync)
            UPDATE account_sync s SET sync_status = 'synced',
                   last_updated_at = now() - make_interval(secs => r.age),
                   stale_after = now() - make_interval(secs => r.age) + make_interval(secs => %(fresh)s),
                   next_sync_at = now() - make_interval(secs => r.age)
                                  + make_interval(secs => %(interval)s - r.jitter)
            FROM r WHERE r.account_id = s.account_id
            """,
            {"interval": interval, "jitter": FRESHNESS * 0.05, "fresh": FRESHNESS},
        )
        conn.execute("VACUUM ANALYZE account_sync")


def flush_broker() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


# --- sampling -------------------------------------------------------------------------------


def sample(t: float, conn: psycopg.Connection[Any], broker: redis.Redis, sim: SimulatorClient) -> Sample:
    rows = conn.execute(
        "SELECT platform, count(*) FILTER (WHERE stale_after < now()) FROM account_sync GROUP BY 1"
    ).fetchall()
    stale = {p: 0 for p in PLATFORMS} | {str(p): int(n) for p, n in rows}
    queued = {p: int(broker.llen(q)) for p, q in QUEUES.items()}
    budgets = sim.budgets()
    return Sample(
        t=round(t, 1),
        stale=stale,
        queued=queued,
        calls={p: int(budgets[p]["admitted"]) for p in PLATFORMS},
        refused={p: int(budgets[p]["refused_app"]) + int(budgets[p]["refused_user"]) for p in PLATFORMS},
        load=os.getloadavg()[0],
    )


def stale_at_outage_end(conn: psycopg.Connection[Any]) -> dict[str, float]:
    """TikTok accounts past stale_after now, with how many seconds overdue they are."""
    rows = conn.execute(
        "SELECT account_id, extract(epoch FROM now() - stale_after) FROM account_sync"
        " WHERE platform = %s AND stale_after < now()",
        (scenario.OUTAGE_PLATFORM,),
    ).fetchall()
    return {str(a): float(s) for a, s in rows}


def reread_after(conn: psycopg.Connection[Any], since: datetime, ids: list[str]) -> dict[str, float]:
    """Seconds from `since` to each account's first successful read after it."""
    rows = conn.execute(
        "SELECT account_id, extract(epoch FROM min(captured_at) - %s) FROM metric_snapshots"
        " WHERE account_id = ANY(%s) AND captured_at > %s GROUP BY 1",
        (since, ids, since),
    ).fetchall()
    return {str(a): float(s) for a, s in rows}


def soak(url: str, log_dir: Path) -> Soak:
    key = Fernet.generate_key().decode()
    flush_broker()
    sim_proc, base = start_simulator({**os.environ}, log_dir, latency_ms=0)
    procs: list[ManagedProcess] = [sim_proc]
    try:
        with SimulatorClient(base, timeout=30) as sim:
            lat = scenario.LATENCY
            sim.set_latency_distribution(
                lat.p50.total_seconds() * 1000,
                lat.p99.total_seconds() * 1000,
                lat.tail_share,
                lat.tail.total_seconds() * 1000,
            )
            sim.set_budgets({p: {"app": a, "user": u} for p, (a, u) in scenario.budgets().items()})
            accounts = make_accounts(PER_PLATFORM * len(PLATFORMS))
            seed_simulator(base, accounts)
            seed_database(url, accounts, key)
            steady_start(url)
            env = worker_env(url, base, key)
            # The shipped worker: DRAVO_WORKER_PROCESSES=0 (one per core), 32 threads each.
            procs.append(start_cli("worker", ["worker"], env, log_dir, "worker.ready", 120))
            procs.append(start_cli("beat", ["beat"], env, log_dir, "beat.ready", 60))
            return observe(url, sim, procs)
    finally:
        for proc in reversed(procs):
            proc.stop(30)
        flush_broker()


def observe(url: str, sim: SimulatorClient, procs: list[ManagedProcess]) -> Soak:
    result = Soak(accounts={p: PER_PLATFORM for p in PLATFORMS})
    started = time.monotonic()
    outage_started = outage_ended = False
    overdue: dict[str, float] = {}
    outage_end_wall = datetime.now(UTC)
    broker = redis.Redis.from_url(REDIS_URL)
    try:
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            while (t := time.monotonic() - started) < RUN_SECONDS:
                if not outage_started and t >= OUTAGE_START:
                    sim.set_outage(scenario.OUTAGE_PLATFORM, OUTAGE_SECONDS)
                    outage_started = True
                if outage_started and not outage_ended and t >= OUTAGE_START + OUTAGE_SECONDS:
                    outage_ended = True
                    outage_end_wall = datetime.now(UTC)
                    result.outage_end_t = round(t, 1)
                    overdue = stale_at_outage_end(conn)
                result.samples.append(sample(t, conn, broker, sim))
                dead = [p.name for p in procs if not p.alive()]
                if dead:
                    raise RuntimeError(f"{dead} died:\n" + "\n".join(p.tail() for p in procs))
                time.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - started - t)))
            reread = reread_after(conn, outage_end_wall, list(overdue))
    finally:
        broker.close()
    result.drain = [(s, reread.get(a)) for a, s in sorted(overdue.items(), key=lambda kv: -kv[1])]
    return result


# --- summary --------------------------------------------------------------------------------


def share(sample: Sample, platforms: tuple[str, ...], accounts: dict[str, int]) -> float:
    return sum(sample.stale[p] for p in platforms) / sum(accounts[p] for p in platforms)


def per_minute(samples: list[Sample], p: str, start: float, end: float) -> list[float]:
    """Calls per minute of platform `p` between consecutive samples in [start, end)."""
    rates = []
    for a, b in itertools.pairwise(samples):
        if start <= a.t and b.t <= end and b.t > a.t:
            rates.append((b.calls[p] - a.calls[p]) * 60 / (b.t - a.t))
    return rates


def budget_per_minute(budget: str) -> float:
    calls, seconds = budget.split("/")
    return int(calls) * 60 / int(seconds)


def summarise(result: Soak) -> dict[str, Any]:
    samples, accounts = result.samples, result.accounts
    outage_start = OUTAGE_START
    outage_end = result.outage_end_t or OUTAGE_START + OUTAGE_SECONDS
    platform = scenario.OUTAGE_PLATFORM
    others = tuple(p for p in PLATFORMS if p != platform)
    # The start-up transient: the first time after the warm-up with no account stale. The outage
    # platform's pre-outage level is measured from then, when there is such a time before the outage.
    settled_at = next((s.t for s in samples if s.t >= WARM_UP and sum(s.stale.values()) == 0), None)
    start = settled_at if settled_at is not None and settled_at < outage_start else WARM_UP
    before = [s for s in samples if start <= s.t < outage_start]
    baseline = max((s.stale[platform] for s in before), default=0)
    # Drained: from the first sample after which the outage platform's stale count and queue depth
    # stay at most their pre-outage maxima (accounts keep going stale for a while after the end).
    queue_base = max((s.queued[platform] for s in before), default=0)
    above = [
        i
        for i, s in enumerate(samples)
        if s.t >= outage_start and (s.stale[platform] > baseline or s.queued[platform] > queue_base)
    ]
    after = above[-1] + 1 if above else next((i for i, s in enumerate(samples) if s.t >= outage_end), None)
    drained_at = samples[after].t if after is not None and after < len(samples) else None
    if drained_at is not None:
        drained_at = max(drained_at, outage_end)
    steady_end = drained_at if drained_at is not None else outage_end
    steady = [s for s in samples if WARM_UP <= s.t < outage_start or s.t >= steady_end]
    steady_shares = [share(s, PLATFORMS, accounts) for s in steady]
    settled = [share(s, PLATFORMS, accounts) for s in steady if settled_at is not None and s.t >= settled_at]
    during = [s for s in samples if outage_start <= s.t < steady_end]
    reread = [(o, r) for o, r in result.drain if r is not None]
    budgets = scenario.budgets()
    calls = {}
    for p in PLATFORMS:
        rates = per_minute(samples, p, WARM_UP, RUN_SECONDS + SAMPLE_SECONDS)
        drain_rates = per_minute(samples, p, outage_end, steady_end) if p == platform else []
        calls[p] = {
            "budget_app": budgets[p][0],
            "budget_app_per_minute": budget_per_minute(budgets[p][0]),
            "median_per_minute": median(rates),
            "max_per_minute": max(rates, default=float("nan")),
            "max_per_minute_drain": max(drain_rates, default=float("nan")),
            "refused": samples[-1].refused[p] if samples else 0,
        }
    return {
        "accounts": sum(accounts.values()),
        "steady_stale_share_p50": median(steady_shares),
        "steady_stale_share_max": max(steady_shares, default=float("nan")),
        "steady_samples": len(steady),
        "settled_at_s": settled_at,
        "settled_stale_share_p50": median(settled),
        "settled_stale_share_max": max(settled, default=float("nan")),
        "settled_samples": len(settled),
        "steady_stale_share_by_platform_max": {
            p: max((s.stale[p] / accounts[p] for s in steady), default=float("nan")) for p in PLATFORMS
        },
        "others_stale_share_max_steady": max((share(s, others, accounts) for s in steady), default=0.0),
        "others_stale_share_max_outage": max((share(s, others, accounts) for s in during), default=0.0),
        "outage_platform": platform,
        "outage_start_s": outage_start,
        "outage_end_s": outage_end,
        "outage_stale_max": max((s.stale[platform] for s in during), default=0),
        "outage_queue_max": max((s.queued[platform] for s in during), default=0),
        "drained_at_s": drained_at,
        "drain_seconds": None if drained_at is None else round(drained_at - outage_end, 1),
        "stale_at_outage_end": len(result.drain),
        "reread_after_outage": len(reread),
        "reread_seconds_p50": median([r for _, r in reread]),
        "reread_seconds_max": max((r for _, r in reread), default=float("nan")),
        "reread_seconds_min": min((r for _, r in reread), default=float("nan")),
        # Stalest first: the more overdue at the outage's end, the sooner re-read (1.0 = strictly).
        "stalest_first_spearman": -spearman([o for o, _ in reread], [r for _, r in reread]),
        "reread_by_overdue_quartile_p50": quartiles(reread),
        "queue_max_steady": {p: max((s.queued[p] for s in steady), default=0) for p in PLATFORMS},
        "queue_p50_steady": {p: median([float(s.queued[p]) for s in steady]) for p in PLATFORMS},
        "load_p50": median([s.load for s in samples if s.load == s.load]),
        # The outage platform's calls per minute before the outage and while its backlog drained.
        "outage_platform_calls_before": median(per_minute(samples, platform, WARM_UP, outage_start)),
        "outage_platform_calls_drain": median(per_minute(samples, platform, outage_end, steady_end)),
        "outage_platform_calls_during": median(per_minute(samples, platform, outage_start, outage_end)),
        "calls": calls,
    }


def quartiles(reread: list[tuple[float, float]]) -> list[float]:
    """Median seconds to re-read per quarter of the accounts, most overdue quarter first."""
    ordered = sorted(reread, key=lambda pair: -pair[0])
    n = len(ordered)
    return (
        [median([r for _, r in ordered[i * n // 4 : (i + 1) * n // 4]]) for i in range(4)] if n >= 4 else []
    )


# --- report ---------------------------------------------------------------------------------


def plot(result: Soak, summary: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the optional `bench` extra is not installed
        return False
    t = [s.t / 60 for s in result.samples]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for p in PLATFORMS:
        top.plot(t, [100 * s.stale[p] / result.accounts[p] for s in result.samples], label=p)
        bottom.plot(t, [s.queued[p] for s in result.samples], label=p)
    top.plot(t, [100 * share(s, PLATFORMS, result.accounts) for s in result.samples], "k--", label="all")
    top.axhline(100 * STALE_TARGET, color="grey", linewidth=0.8, linestyle=":")
    for ax in (top, bottom):
        ax.axvspan(summary["outage_start_s"] / 60, summary["outage_end_s"] / 60, color="red", alpha=0.12)
        ax.axvline(WARM_UP / 60, color="grey", linewidth=0.8)
        ax.grid(alpha=0.3)
    top.set_ylabel("accounts past stale_after (%)")
    top.set_title(
        f"{summary['accounts']:,} accounts, time compressed {scenario.TIME_COMPRESSION}x; "
        f"{summary['outage_platform']} outage shaded"
    )
    top.legend(ncol=3, fontsize=8)
    bottom.set_ylabel("queue depth (LLEN)")
    bottom.set_xlabel("minutes since beat started")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def markdown(summary: dict[str, Any], plotted: bool) -> str:
    calls = summary["calls"]
    rows = "\n".join(
        f"| {p} | {c['budget_app']} ({c['budget_app_per_minute']:,.0f}/min) | {c['median_per_minute']:,.0f} |"
        f" {c['max_per_minute']:,.0f} | {c['refused']:,} |"
        for p, c in calls.items()
    )
    by_platform = ", ".join(f"{p} {pct(v)}" for p, v in summary["steady_stale_share_by_platform_max"].items())
    q = summary["reread_by_overdue_quartile_p50"]
    quart = " / ".join(f"{v:.0f} s" for v in q) if q else "n/a"
    drain = (
        "did not drain within the run"
        if summary["drain_seconds"] is None
        else f"{summary['drain_seconds']:.0f} s"
    )
    target = "met" if summary["steady_stale_share_max"] < STALE_TARGET else "missed"
    out = summary["outage_platform"]
    drain_rate = calls[out]["max_per_minute_drain"]
    image = "\n\n![stale share and queue depth over time](img/freshness.png)" if plotted else ""
    return f"""## 8. Staleness soak: {summary["accounts"]:,} accounts, real processes, time compressed {scenario.TIME_COMPRESSION}x

The scenario of `bench/freshness_scenario.py`, run for real for {RUN_SECONDS / 60:.0f} minutes: the simulator
in its own process, each call's latency drawn from a lognormal (p50 {scenario.LATENCY.p50.total_seconds() * 1000:.0f} ms,
p99 {scenario.LATENCY.p99.total_seconds() * 1000:.0f} ms) plus {scenario.LATENCY.tail_share:.1%} of calls at
{scenario.LATENCY.tail.total_seconds():.0f} s, the compressed budgets enforced per app and per token; `dravo-sync worker`
and `dravo-sync beat` with the shipped defaults except DRAVO_FRESHNESS_SECONDS={FRESHNESS} and the
budgets. Accounts start in steady state (each last read a random time within one sync interval
ago). A {OUTAGE_SECONDS / 60:.0f}-minute {out} outage (every call a 5xx) starts at minute {OUTAGE_START / 60:.0f}.
Sampled every {SAMPLE_SECONDS:.0f} s; "steady" is after minute {WARM_UP / 60:.0f}, outside the outage and its drain.

Accounts past `stale_after`, steady part ({summary["steady_samples"]} samples): p50 **{pct(summary["steady_stale_share_p50"])}**,
max **{pct(summary["steady_stale_share_max"])}** (target under {pct(STALE_TARGET)}: {target}); max by platform: {by_platform}.

Calls per minute against each platform's app budget (simulator counts, steady part and drain;
refused: calls the enforced budgets turned away over the whole run):

| platform | app budget | calls/min (median) | calls/min (max) | refused |
| --- | --- | --- | --- | --- |
{rows}

The {out} outage: at most {summary["outage_stale_max"]:,} of {summary["accounts"] // len(PLATFORMS):,} {out} accounts stale and
{summary["outage_queue_max"]:,} messages queued; back to the pre-outage level (stale count and queue depth)
{drain} after it ended. {summary["stale_at_outage_end"]:,} accounts were stale when it ended; {summary["reread_after_outage"]:,}
of them were read again within the run, p50 {summary["reread_seconds_p50"]:.0f} s and max {summary["reread_seconds_max"]:.0f} s after
the end. Stalest first: Spearman rank correlation between how overdue an account was and how soon
it was re-read {summary["stalest_first_spearman"]:.2f} (1 = strictly stalest first); median seconds to re-read by
quarter, most overdue first: {quart}. Peak {out} calls during the drain: {drain_rate:,.0f}/min against a budget
of {calls[out]["budget_app_per_minute"]:,.0f}/min. The other platforms' stale share: max {pct(summary["others_stale_share_max_outage"])}
during the outage and drain against {pct(summary["others_stale_share_max_steady"])} in the steady part.

{reading(summary)}{image}"""


def reading(summary: dict[str, Any]) -> str:
    """What the figures say about the product, as far as this run shows it."""
    out = summary["outage_platform"]
    depths = ", ".join(f"{p} {v:,.0f}" for p, v in summary["queue_p50_steady"].items())
    load = summary.get("load_p50", float("nan"))
    load_text = f" (1-minute load average p50 {load:.1f} on {os.cpu_count()} CPUs)" if load == load else ""
    before = summary["outage_platform_calls_before"]
    peak = summary["calls"][out]["max_per_minute_drain"]
    settled = summary.get("settled_at_s")
    start = (
        f"""The steady figures above include the tail of the start-up: no account was stale from
minute {settled / 60:.1f} on, and over the {summary["settled_samples"]} steady samples from then the stale share was
p50 {pct(summary["settled_stale_share_p50"])}, max {pct(summary["settled_stale_share_max"])}. """
        if settled is not None and summary["steady_stale_share_max"] > 0
        else ""
    )
    budget = summary["calls"][out]["budget_app_per_minute"]
    bound = (
        "not budget-bound but consumer-bound: the dispatcher tops each queue up to "
        "DRAVO_DISPATCH_BATCH_SIZE and the workers take from all queues at once"
        if peak < budget / 2
        else "close to its budget"
    )
    queues = (
        f"The queues were never empty in the steady part: median depth {depths} messages{load_text}. "
        "The workers consumed syncs at the rate they came due, with that backlog in front of them, so "
        "each sync waited in its queue for depth / rate seconds of the slack the schedule leaves before "
        "`stale_after` (it plans the next read at 85 % of the freshness, minus up to 5 %)."
        if min(summary["queue_p50_steady"].values(), default=0) > 0
        else f"Median queue depth in the steady part: {depths} messages{load_text}."
    )
    rho = summary["stalest_first_spearman"]
    order = (
        "The backlog was re-read stalest first: the syncs queued or due while the platform was held "
        "were refused before any call and put back at the time they became due "
        '(docs/worker.md, "Outage holds"), and the dispatcher claims most overdue first.'
        if rho >= 0.5
        else "The backlog was not re-read stalest first: which accounts come first is set by the "
        "failure backoff and the dispatcher's order of `next_sync_at`."
    )
    held = summary.get("outage_platform_calls_during")
    held_text = (
        f" While {out} was down the workers sent it {held:,.0f} calls/min (median), against "
        f"{before:,.0f} before: the outage holds kept the calls to a few probes."
        if held is not None and held == held and held < before / 2
        else (f" While {out} was down it got {held:,.0f} calls/min (median)." if held is not None else "")
    )
    first = summary.get("reread_seconds_min")
    wait = (
        f" No account was re-read in the first {first:.0f} s after the end: the last hold, begun by a "
        "probe that still found the platform down, had to run out (DRAVO_OUTAGE_HOLD_SECONDS, 60 s, "
        "not compressed in this scenario)."
        if first is not None and first == first and first >= 10
        else ""
    )
    return f"""Reading it. {start}{queues}{held_text} {order}{wait} The {out} backlog was then read at up to
{peak:,.0f} calls/min against {before:,.0f} before the outage and a budget of {budget:,.0f}/min:
{bound}."""


def resummarise() -> dict[str, Any]:
    """Recompute the summary and the section from the saved samples (no new run)."""
    record = json.loads((RESULTS / "freshness.json").read_text())
    data = record["data"]
    result = Soak(accounts={p: PER_PLATFORM for p in PLATFORMS}, drain=[tuple(d) for d in data["drain"]])
    result.samples = [Sample(**s) for s in data["samples"]]
    result.outage_end_t = float(data["summary"]["outage_end_s"])
    summary = summarise(result)
    plotted = plot(result, summary, PLOT)
    save(
        "freshness",
        record["command"],
        markdown(summary, plotted),
        {**data, "summary": summary},
        ran_at=record["ran_at"],
    )
    return summary


def run() -> dict[str, Any]:
    if "--resummarise" in sys.argv:
        return resummarise()
    with tempfile.TemporaryDirectory(prefix="dravo-freshness-") as tmp, bench_database() as url:
        result = soak(url, Path(tmp))
    summary = summarise(result)
    data = {"summary": summary, "samples": [asdict(s) for s in result.samples], "drain": result.drain}
    if QUICK:
        plot(result, summary, Path(tempfile.gettempdir()) / "freshness-quick.png")
        return summary
    plotted = plot(result, summary, PLOT)
    save("freshness", "python -m bench freshness", markdown(summary, plotted), data)
    return summary
