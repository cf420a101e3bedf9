"""Webhook gauges read from PostgreSQL by the API's background gauge loop (api.gauges.FreshnessGauges): the outbox backlog and
the kept deliveries by status. Attempts by outcome are counted where they happen
(`dravo_webhook_deliveries_total` in ops.foundation.metrics, on the workers' exporters)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import outbox
from models.webhooks import DELIVERY_STATUS_VALUES


class WebhookCollector(Collector):
    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "dravo_webhook_outbox_backlog",
            "Webhook work not done yet: events not fanned out, deliveries pending.",
            labels=["stage"],
        )
        kept = GaugeMetricFamily(
            "dravo_webhook_deliveries",
            "Webhook deliveries kept (until pruned), by status.",
            labels=["status"],
        )
        try:
            with self._session_factory() as session:
                events, pending = outbox.backlog(session)
                by_status = outbox.deliveries_by_status(session)
        except SQLAlchemyError:
            return  # dravo_freshness_scrape_ok already says the database can't be read
        backlog.add_metric(["events"], events)
        backlog.add_metric(["deliveries"], pending)
        for name in DELIVERY_STATUS_VALUES:
            kept.add_metric([name], by_status.get(name, 0))
        yield from (backlog, kept)
