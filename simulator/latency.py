"""How long a simulated platform call takes: a fixed delay, or draws from a latency distribution.

The distribution is lognormal around `p50_ms` with `p99_ms` at its 99th percentile, plus a rare
tail: `tail_share` of the calls take `tail_ms` instead (so the percentiles describe the body; with
a 0.5 % tail the mixture's own 99th percentile lies a little above `p99_ms`). Draws come from a seeded RNG, so a run
is repeatable given the same order of calls.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from pydantic import BaseModel, Field, model_validator

# The standard normal's 99th percentile: ln(p99 / p50) / Z99 is the lognormal's sigma.
Z99 = 2.3263478740408408
DEFAULT_SEED = 16


class LatencyBody(BaseModel):
    """PUT /_admin/latency: {"latency_ms"} for a fixed delay, or the distribution's four fields."""

    latency_ms: float | None = Field(None, ge=0)
    p50_ms: float | None = Field(None, gt=0)
    p99_ms: float | None = Field(None, gt=0)
    tail_share: float = Field(0.0, ge=0, lt=1)
    tail_ms: float = Field(0.0, ge=0)
    seed: int = DEFAULT_SEED

    @model_validator(mode="after")
    def _one_kind(self) -> LatencyBody:
        distribution = self.p50_ms is not None or self.p99_ms is not None
        if distribution == (self.latency_ms is not None):
            raise ValueError('give either "latency_ms" or "p50_ms" and "p99_ms"')
        if distribution and (self.p50_ms is None or self.p99_ms is None):
            raise ValueError('"p50_ms" and "p99_ms" go together')
        if self.p50_ms is not None and self.p99_ms is not None and self.p99_ms < self.p50_ms:
            raise ValueError('"p99_ms" must be at least "p50_ms"')
        return self

    def distribution(self) -> LatencyDistribution:
        if self.p50_ms is None or self.p99_ms is None:
            raise ValueError("a fixed latency has no distribution")
        return LatencyDistribution(self.p50_ms, self.p99_ms, self.tail_share, self.tail_ms, self.seed)


@dataclass
class LatencyDistribution:
    p50_ms: float
    p99_ms: float
    tail_share: float = 0.0
    tail_ms: float = 0.0
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        self._sigma = math.log(self.p99_ms / self.p50_ms) / Z99
        self._rng = random.Random(self.seed)

    def draw_ms(self) -> float:
        if self.tail_share and self._rng.random() < self.tail_share:
            return self.tail_ms
        return self.p50_ms * math.exp(self._sigma * self._rng.gauss(0.0, 1.0))

    def public(self) -> dict[str, float]:
        return {
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "tail_share": self.tail_share,
            "tail_ms": self.tail_ms,
            "seed": self.seed,
        }
