"""The steady-state capacity model: closed formulas over a `Scenario` (docs/capacity.md).

Per platform, with freshness F, margin m, jitter j, dispatch interval T, N accounts, c calls a
sync really makes (`PlatformLoad.calls_per_sync`, the registry's `calls_per_sync`) and an app
budget of Q calls per second:

- a read is planned F(1 - m - j/2) after the previous one on average (`worker.schedule.after_read`)
  and waits T/2 for its tick: interval I = F(1 - m - j/2) + T/2; demand N / I syncs per second;
- the app budget carries Q / c syncs per second (`dispatchable` divides tokens by the registry's
  estimate, which caps one tick's batch; over time the bucket refills at Q whatever it divides by), the
  dispatcher at most batch / T; syncs run at the smallest of the three;
- read at rate R, an account stays fresh F after each read, so R * F accounts are fresh
  (Little's law): stale share 1 - min(1, R F / N);
- an account spends c I / P_u of its token budget per window P_u;
- worker CPU is syncs per second x CPU per sync (measured); slots are syncs per second x sync
  duration (c calls x mean latency); a process runs one core's worth (its GIL) or `concurrency`
  slots, whichever it reaches first.

What it ignores: failures and their backoff (a failure rate adds its retries to demand), the
start-up burst, refreshes, and platform-side pauses (Meta's usage headers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ops.capacity.scenario import Scenario, setting_minimum

# Statements and Redis commands our code issues, counted in worker/sync.py and worker/dispatch.py.
POSTGRES_STATEMENTS_PER_SYNC = 2  # claim_for_sync, write_outcome (snapshot in the same statement)
POSTGRES_STATEMENTS_PER_TICK = 1  # record_dispatch_lag; plus one claim_due per platform with work
# DEL refresh marker + PUBLISH sync done + the outage record (worker.outage), one pipeline
REDIS_NOTIFY_COMMANDS_PER_SYNC = 3
REDIS_PUBLISH_COMMANDS_PER_SYNC = 1  # the dispatcher's message (kombu's own broker commands add to it)
REDIS_COMMANDS_PER_PLATFORM_TICK = 2  # LLEN of the queue + the dispatchable script
MIN_FRESHNESS_SECONDS = setting_minimum("freshness_seconds")


@dataclass(frozen=True)
class Measured:
    """Figures a benchmark measured (bench/results/throughput.json), not guessed."""

    cpu_ms_per_sync: float
    concurrency: int
    cores_per_host: int


@dataclass(frozen=True)
class PlatformCapacity:
    platform: str
    accounts: int
    freshness_seconds: float
    interval_seconds: float
    demand_syncs_per_second: float
    syncs_per_second: float
    calls_per_day: float  # what the freshness needs
    app_quota_per_day: float
    user_share: float  # of an account's token budget per window
    shortest_freshness_seconds: float
    binding: str  # "app quota", "user quota" or "dispatch batch"
    stale_share: float

    @property
    def app_share(self) -> float:
        return self.calls_per_day / self.app_quota_per_day


@dataclass(frozen=True)
class Capacity:
    platforms: list[PlatformCapacity]
    syncs_per_second: float
    worker_cores: float
    worker_slots: float
    worker_processes: int
    hosts: int
    postgres_statements_per_second: float
    redis_commands_per_second: float


def _lead(scenario: Scenario) -> float:
    return 1 - scenario.margin_fraction - scenario.jitter_fraction / 2


def platform_capacity(scenario: Scenario, platform: str) -> PlatformCapacity:
    load = scenario.platforms[platform]
    tick = scenario.dispatch_interval.total_seconds()
    freshness = load.freshness.total_seconds()
    lead = _lead(scenario)
    interval = freshness * lead + tick / 2
    n, c = load.accounts, load.calls_per_sync
    app_rate = load.budget.app.calls / load.budget.app.seconds
    demand = n / interval
    ceilings = {
        "app quota": app_rate / c,
        "dispatch batch": scenario.batch_size / tick,
    }
    rate = min(demand, *ceilings.values())
    # Shortest freshness each limit allows (where it alone would bind).
    shortest = {
        "app quota": (n * c / app_rate - tick / 2) / lead,
        "user quota": (c * load.budget.user.seconds / load.budget.user.calls - tick / 2) / lead,
        "dispatch batch": (n * tick / scenario.batch_size - tick / 2) / lead,
    }
    binding = max(shortest, key=lambda k: shortest[k])
    return PlatformCapacity(
        platform=platform,
        accounts=n,
        freshness_seconds=freshness,
        interval_seconds=interval,
        demand_syncs_per_second=demand,
        syncs_per_second=rate,
        calls_per_day=demand * c * 86_400,
        app_quota_per_day=app_rate * 86_400,
        user_share=c * load.budget.user.seconds / interval / load.budget.user.calls,
        shortest_freshness_seconds=max(shortest[binding], MIN_FRESHNESS_SECONDS),
        binding=binding,
        stale_share=1 - min(1.0, rate * freshness / n) if n else 0.0,
    )


def capacity(scenario: Scenario, measured: Measured) -> Capacity:
    rows = [platform_capacity(scenario, p) for p in scenario.platforms]
    syncs = sum(r.syncs_per_second for r in rows)
    latency = scenario.latency.mean_seconds
    slots = sum(r.syncs_per_second * scenario.platforms[r.platform].calls_per_sync * latency for r in rows)
    cores = syncs * measured.cpu_ms_per_sync / 1000
    processes = max(math.ceil(cores), math.ceil(slots / measured.concurrency), 1)
    ticks = 1 / scenario.dispatch_interval.total_seconds()
    calls = sum(r.syncs_per_second * scenario.platforms[r.platform].calls_per_sync for r in rows)
    redis_ops = (
        calls  # one budget script per platform call
        + syncs * (REDIS_NOTIFY_COMMANDS_PER_SYNC + REDIS_PUBLISH_COMMANDS_PER_SYNC)
        + ticks * REDIS_COMMANDS_PER_PLATFORM_TICK * len(rows)
    )
    postgres = syncs * POSTGRES_STATEMENTS_PER_SYNC + ticks * (POSTGRES_STATEMENTS_PER_TICK + len(rows))
    return Capacity(
        platforms=rows,
        syncs_per_second=syncs,
        worker_cores=cores,
        worker_slots=slots,
        worker_processes=processes,
        hosts=math.ceil(processes / measured.cores_per_host),
        postgres_statements_per_second=postgres,
        redis_commands_per_second=redis_ops,
    )
