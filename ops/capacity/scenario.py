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
    calls_per_sync: int
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
            calls_per_sync=spec.estimated_calls_per_sync,
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
