"""Spearman's rank correlation, for "drained stalest first" checks (benchmarks and fault tests).

Python 3.11's `statistics.correlation` has no ranked method (3.12 adds it), so ranks first: ties
get consecutive ranks, which is enough for timestamps that rarely tie.
"""

from __future__ import annotations

import statistics


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    for rank, i in enumerate(order):
        out[i] = float(rank)
    return out


def spearman(xs: list[float], ys: list[float]) -> float:
    """1.0 when ys rise with xs in the same order, -1.0 in the reverse; NaN under 3 points."""
    if len(xs) < 3:
        return float("nan")
    return statistics.correlation(_ranks(xs), _ranks(ys))
