"""What a capacity question is asked about: accounts, freshness and quotas per platform, and the world.

Defaults come from where production takes them: the registry (budgets, calls per sync) and the
settings' declared defaults (margin, jitter, backoff, dispatch interval and batch), so a scenario
that names only account counts describes the shipped configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ops.foundation import platforms as platform_registry
from ops.foundation.settings import Settings
from worker.budget import PlatformBudget, Rate
from worker.outage import OutagePolicy
from worker.schedule import SchedulePolicy


def setting_default(name: str) -> Any:
    """A setting's declared default (what production runs with when the variable is unset)."""
    return Settings.model_fields[name].default


def setting_minimum(name: str) -> float:
    """A setting's declared lower bound (its `ge=`)."""
    for constraint in Settings.model_fields[name].metadata:
        bound = getattr(constraint, "ge", None)
        if bound is not None:
            return float(bound)
    raise KeyError(f"{name} declares no lower bound")


@dataclass(frozen=True)
class PlatformLoad:
    accounts: int
    freshness: timedelta
    budget: PlatformBudget
    calls_per_sync: int  # what a healthy sync spends (the registry's calls_per_sync), not the estimate
    error_rate: float = 0.0  # share of syncs that fail (PlatformBroken: backoff), outside outages

    @classmethod
    def shipped(cls, platform: str, accounts: int, freshness: timedelta | None = None) -> PlatformLoad:
        spec = platform_registry.spec(platform)
        return cls(
            accounts=accounts,
            freshness=freshness or timedelta(seconds=setting_default("freshness_seconds")),
            budget=PlatformBudget(
                app=Rate.parse(spec.app_budget, f"{platform} app budget"),
                user=Rate.parse(spec.user_budget, f"{platform} user budget"),
            ),
            calls_per_sync=spec.typical_calls_per_sync,
        )


@dataclass(frozen=True)
class CallLatency:
    """A platform call's duration: lognormal around `p50` with `p99`, plus a rare slow tail."""

    p50: timedelta
    p99: timedelta
    tail_share: float = 0.0
    tail: timedelta = timedelta(0)

    @property
    def sigma(self) -> float:
        # 2.326: the standard normal's 99th percentile.
        return math.log(self.p99 / self.p50) / 2.326

    @property
    def mean_seconds(self) -> float:
        body = self.p50.total_seconds() * math.exp(self.sigma**2 / 2)
        return (1 - self.tail_share) * body + self.tail_share * self.tail.total_seconds()


# Typical Graph/REST response times from a server in the same region (the freshness scenario's,
# bench/freshness_scenario.py; a test keeps the two equal): what `dravo-sync capacity` assumes.
DEFAULT_LATENCY = CallLatency(
    p50=timedelta(milliseconds=180),
    p99=timedelta(milliseconds=1200),
    tail_share=0.005,
    tail=timedelta(seconds=4),
)


@dataclass(frozen=True)
class Outage:
    """Every call of `platform` fails with its 5xx from `start` for `length`."""

    platform: str
    start: timedelta
    length: timedelta


def shipped_outage_policy() -> OutagePolicy:
    """The outage holds production runs with when DRAVO_OUTAGE_* are unset
    (`worker.composition.outage_policy` of the declared defaults)."""
    return OutagePolicy(
        min_failures=int(setting_default("outage_min_failures")),
        failure_ratio=float(setting_default("outage_failure_ratio")),
        window=timedelta(seconds=setting_default("outage_window_seconds")),
        hold=timedelta(seconds=setting_default("outage_hold_seconds")),
        probe_syncs=int(setting_default("outage_probe_syncs")),
        min_workspaces=int(setting_default("outage_min_workspaces")),
    )


@dataclass(frozen=True)
class Workers:
    """A bounded worker pool: `processes` x `concurrency` slots (a sync holds one for its CPU and
    its platform calls), and CPU for at most min(cores, processes) / cpu_per_sync_seconds syncs a
    second (one process runs on one core at most: its GIL)."""

    processes: int
    concurrency: int
    cpu_per_sync_seconds: float
    cores: float

    @property
    def slots(self) -> int:
        return self.processes * self.concurrency

    @property
    def busy_cores(self) -> float:
        return min(self.cores, float(self.processes))

    @property
    def max_syncs_per_second(self) -> float:
        return self.busy_cores / self.cpu_per_sync_seconds

    @classmethod
    def shipped(cls, cores: int, cpu_per_sync_seconds: float) -> Workers:
        """`dravo-sync worker` with the shipped defaults on a host of `cores` cores (one process
        per core when DRAVO_WORKER_PROCESSES is 0, DRAVO_WORKER_CONCURRENCY slots each)."""
        processes = int(setting_default("worker_processes")) or cores
        concurrency = int(setting_default("worker_concurrency"))
        return cls(processes, concurrency, cpu_per_sync_seconds, float(cores))


@dataclass(frozen=True)
class Scenario:
    platforms: dict[str, PlatformLoad]
    duration: timedelta
    latency: CallLatency
    outages: tuple[Outage, ...] = ()
    dispatch_interval: timedelta = field(
        default_factory=lambda: timedelta(seconds=setting_default("dispatch_interval_seconds"))
    )
    batch_size: int = field(default_factory=lambda: int(setting_default("dispatch_batch_size")))
    margin_fraction: float = field(default_factory=lambda: float(setting_default("schedule_margin_fraction")))
    jitter_fraction: float = field(default_factory=lambda: float(setting_default("schedule_jitter_fraction")))
    backoff_base: timedelta = field(
        default_factory=lambda: timedelta(seconds=setting_default("backoff_base_seconds"))
    )
    max_backoff: timedelta = field(
        default_factory=lambda: timedelta(seconds=setting_default("max_backoff_seconds"))
    )
    sample_every: timedelta = timedelta(seconds=10)
    # False: every account new and due at the start (an import). True: each already read a
    # uniform random time within one sync interval before the start (the soak's start).
    steady_start: bool = False
    # None: a pool large enough that every message starts at its tick (what `capacity` sizes).
    workers: Workers | None = None
    outage_policy: OutagePolicy = field(default_factory=shipped_outage_policy)
    seed: int = 1

    def policy(self, platform: str) -> SchedulePolicy:
        return SchedulePolicy(
            freshness=self.platforms[platform].freshness,
            margin_fraction=self.margin_fraction,
            jitter_fraction=self.jitter_fraction,
            backoff_base=self.backoff_base,
            max_backoff=self.max_backoff,
        )

    def in_outage(self, platform: str, at: timedelta) -> bool:
        return any(o.platform == platform and o.start <= at < o.start + o.length for o in self.outages)
