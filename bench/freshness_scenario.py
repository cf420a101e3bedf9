"""The freshness scenario: one description shared by the real soak and the simulated model.

Time is compressed by `TIME_COMPRESSION`: the shipped 6-hour freshness becomes 12 minutes, and
every shipped budget keeps its calls but has its period divided by the same factor. Demand
against quota is then the same as in production with the shipped defaults, and steady state is
reached within a half-hour run. Platform latency is not compressed: a call takes as long as it
would in production, which is what holds worker slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from ops.foundation import platforms as platform_registry

TIME_COMPRESSION: Final = 30
SHIPPED_FRESHNESS: Final = timedelta(hours=6)
FRESHNESS: Final = SHIPPED_FRESHNESS / TIME_COMPRESSION  # 12 minutes

# 20,000 accounts, a fifth per platform. At the shipped budgets every platform fits with room:
# the tightest is LinkedIn (3 calls a sync against 100,000 a day).
ACCOUNTS_PER_PLATFORM: Final[dict[str, int]] = {spec.name: 4_000 for spec in platform_registry.PLATFORMS}

RUN: Final = timedelta(minutes=36)
OUTAGE_PLATFORM: Final = "tiktok"
OUTAGE_START: Final = timedelta(minutes=18)  # after the first rounds have settled
OUTAGE_LENGTH: Final = timedelta(minutes=5)
# Stale share is summarised over the steady parts: after the first full round, outside the
# outage and its drain.
WARM_UP: Final = timedelta(minutes=13)


@dataclass(frozen=True)
class Latency:
    """A platform call's duration: lognormal around `p50`, with `p99`, plus a rare slow tail."""

    p50: timedelta
    p99: timedelta
    tail_share: float  # share of calls that take `tail` instead
    tail: timedelta


# Typical Graph/REST response times seen from a server in the same region: a few hundred ms,
# a second at the 99th percentile, and one call in 200 stuck for several seconds.
LATENCY: Final = Latency(
    p50=timedelta(milliseconds=180),
    p99=timedelta(milliseconds=1200),
    tail_share=0.005,
    tail=timedelta(seconds=4),
)


def compressed_budget(budget: str) -> str:
    """A shipped "CALLS/SECONDS" budget with its period divided by the compression factor."""
    calls, seconds = budget.split("/")
    period = int(seconds) // TIME_COMPRESSION
    if period * TIME_COMPRESSION != int(seconds):
        raise ValueError(f"{budget}: period not divisible by {TIME_COMPRESSION}")
    return f"{calls}/{period}"


def budgets() -> dict[str, tuple[str, str]]:
    """Per platform: the (app, user) budgets of the compressed scenario."""
    return {
        spec.name: (compressed_budget(spec.app_budget), compressed_budget(spec.user_budget))
        for spec in platform_registry.PLATFORMS
    }
