"""How much of each platform's app budget is left, read from the shared buckets on each scrape.

Registered on the worker's exporter (worker.celery_worker). Every worker reads the same Redis
buckets, so they all report the same value: alerts take the max per platform. A platform whose
app budget stays near 0 (spent, or paused after a platform's rate-limit reply) is one whose syncs
keep being deferred: the `DravoBudgetExhausted` alert (ops/prometheus/alerts.yml).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from worker.budget import ESTIMATED_CALLS_PER_SYNC, PlatformBudget, RedisRateBudget

AVAILABLE_RATIO = "dravo_budget_app_available_ratio"


class BudgetCollector(Collector):
    def __init__(self, budget: Callable[[], RedisRateBudget], budgets: dict[str, PlatformBudget]) -> None:
        self._budget = budget  # the process's shared budget, looked up at scrape time
        self._budgets = budgets

    def collect(self) -> Iterator[GaugeMetricFamily]:
        left = GaugeMetricFamily(
            AVAILABLE_RATIO,
            "Share of the platform app budget's bucket available now (0: spent or paused).",
            labels=["platform"],
        )
        try:
            budget = self._budget()
            for platform, rates in self._budgets.items():
                # `dispatchable` counts whole syncs; times the calls a sync spends, it is the tokens.
                per_sync = max(ESTIMATED_CALLS_PER_SYNC.get(platform, 1), 1)
                left.add_metric(
                    [platform], min(1.0, budget.dispatchable(platform) * per_sync / rates.app.calls)
                )
        except redis.RedisError:
            return  # no value rather than a wrong one; the queue depth gauges go missing too
        yield left
