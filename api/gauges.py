"""Prometheus gauges the API computes from PostgreSQL and Redis. They measure data freshness.

The freshness gauges are computed from PostgreSQL by `FreshnessCollector`, so they are right
whichever process restarted. The API computes them in the background (`FreshnessGauges`, at most
every DRAVO_METRICS_INTERVAL_SECONDS) and a scrape only reads the last result: scraping runs no
query. Counters and histograms are defined in `ops.foundation.metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

import anyio.to_thread
import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from adapters.base import Platform
from models.status import collect_status
from models.tables import SYNC_STATUS_VALUES
from ops.versions import version_lifetimes
from worker.names import PLATFORM_QUEUES, REFRESH_QUEUE, platform_queue
from worker.webhooks.names import WEBHOOKS_QUEUE

# The queues an operator watches: the interactive one and one per platform.
QUEUES: tuple[str, ...] = (REFRESH_QUEUE, *(platform_queue(p) for p in PLATFORM_QUEUES), WEBHOOKS_QUEUE)


class FreshnessCollector(Collector):
    """Accounts by status, accounts past stale_after, and queue depths, read on each scrape."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        redis_client: redis.Redis | None = None,
        queue_names: tuple[str, ...] = QUEUES,
    ) -> None:
        self._session_factory = session_factory
        self._redis = redis_client
        self._queues = queue_names

    def collect(self) -> Iterator[GaugeMetricFamily]:
        accounts = GaugeMetricFamily(
            "dravo_accounts", "Connected accounts by sync status.", labels=["platform", "sync_status"]
        )
        stale = GaugeMetricFamily(
            "dravo_accounts_stale",
            "Accounts past stale_after (or never read), by platform.",
            labels=["platform"],
        )
        overdue = GaugeMetricFamily(
            "dravo_accounts_overdue",
            "Accounts whose next sync is past due, by platform.",
            labels=["platform"],
        )
        up = GaugeMetricFamily("dravo_freshness_scrape_ok", "1 if the freshness query succeeded.")
        try:
            with self._session_factory() as session:
                report = collect_status(session, datetime.now(UTC))
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for platform in report.platforms:
            for status in SYNC_STATUS_VALUES:
                accounts.add_metric([platform.platform, status], platform.by_status.get(status, 0))
            stale.add_metric([platform.platform], platform.stale)
            overdue.add_metric([platform.platform], platform.overdue)
        yield from (accounts, stale, overdue, up)

        if self._redis is not None and self._queues:
            depth = GaugeMetricFamily("dravo_queue_depth", "Messages waiting per queue.", labels=["queue"])
            try:
                for name in self._queues:
                    depth.add_metric([name], int(self._redis.llen(name)))
            except redis.RedisError:
                return
            yield depth


class VersionLifetimeCollector(Collector):
    """Days until each pinned API version's sunset, and a 1 when that is within 60 days.

    Computed from the calendar at scrape time, so a long-running API warns on the right day.
    `overrides`: the configured `DRAVO_<PLATFORM>_API_VERSION` values (`configured_overrides()`).
    """

    def __init__(self, overrides: Mapping[Platform, str | None] | None = None) -> None:
        self._overrides = dict(overrides or {})

    def collect(self) -> Iterator[GaugeMetricFamily]:
        days = GaugeMetricFamily(
            "dravo_api_version_sunset_days",
            "Days until the pinned API version's published sunset (absent: none announced).",
            labels=["platform", "version"],
        )
        warning = GaugeMetricFamily(
            "dravo_api_version_sunset_warning",
            "1 when the pinned API version is sunset within 60 days (or already is).",
            labels=["platform", "version"],
        )
        for lifetime in version_lifetimes(datetime.now(UTC).date(), self._overrides):
            if lifetime.days_left is not None:
                days.add_metric([lifetime.platform, lifetime.version], lifetime.days_left)
            warning.add_metric([lifetime.platform, lifetime.version], 1 if lifetime.warning else 0)
        yield from (days, warning)


class FreshnessGauges(Collector):
    """`FreshnessCollector`'s families, recomputed by a background task; `collect` only reads them."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        redis_client: redis.Redis | None,
        interval_seconds: float,
        extra_sources: Sequence[Collector] = (),
    ) -> None:
        # Other gauges read from the database (the webhook backlog) ride the same background loop.
        self._sources: list[Collector] = [FreshnessCollector(session_factory, redis_client), *extra_sources]
        self._interval = interval_seconds
        self._families: list[Metric] = []
        self._computed_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def refresh_now(self) -> None:
        """Blocking: the freshness query and the queue lengths (call it from a thread)."""
        families: list[Metric] = [family for source in self._sources for family in source.collect()]
        self._families, self._computed_at = families, time.time()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="dravo-freshness-gauges")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            # The collector turns database and Redis errors into dravo_freshness_scrape_ok 0. Not
            # abandoned on stop: the engine is disposed right after, and a query still running in
            # an abandoned thread would leak its connection (statement_timeout bounds the wait).
            await anyio.to_thread.run_sync(self.refresh_now)
            await asyncio.sleep(self._interval)

    def collect(self) -> Iterator[Metric]:
        yield from self._families
        age = GaugeMetricFamily(
            "dravo_freshness_computed_timestamp_seconds",
            "When the freshness gauges above were computed (0: not yet).",
        )
        age.add_metric([], self._computed_at)
        yield age
