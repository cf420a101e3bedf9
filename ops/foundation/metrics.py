"""Prometheus metric definitions, and the helpers that update them where things happen.

Definitions only: nothing here queries the database or Redis (those gauges are collectors, computed
by the API in the background: `api.gauges`). Labels are platform, outcome and queue names only:
never an account id (cardinality) and never anything from a credential.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SYNCS = Counter("dravo_syncs_total", "Finished account syncs.", ["platform", "outcome"])
SYNC_DURATION = Histogram(
    "dravo_sync_duration_seconds",
    "Wall time of one account sync, claim to commit.",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
PLATFORM_CALLS = Counter("dravo_platform_calls_total", "HTTP calls made to a platform.", ["platform"])
RATE_LIMIT_DEFERRALS = Counter(
    "dravo_rate_limit_deferrals_total", "Syncs deferred by a platform or budget rate limit.", ["platform"]
)
OPERATOR_PROBLEMS = Counter(
    "dravo_operator_problems_total",
    "Syncs failed by a problem only the operator can fix (app review, product, credits, API version).",
    ["platform", "cause"],
)
OUTAGE_HOLDS = Counter(
    "dravo_platform_outage_holds_total",
    "Outage holds started: a platform failed most syncs, so its calls were held (worker.outage).",
    ["platform"],
)
DISPATCHED = Counter(
    "dravo_dispatched_total", "Accounts claimed and enqueued by the dispatcher.", ["platform"]
)
DISPATCH_LAG = Gauge(
    "dravo_dispatch_lag_seconds", "How overdue the most overdue account was at the last dispatcher tick."
)
DISPATCH_LAST_TICK = Gauge(
    "dravo_dispatch_last_tick_timestamp_seconds", "When the dispatcher last ran (dead-man's switch)."
)


def record_sync(platform: str, event: str, calls: int, seconds: float) -> None:
    """Count one finished sync; `event` is the dotted log event (`sync.succeeded`, ...)."""
    SYNCS.labels(platform, event.removeprefix("sync.")).inc()
    SYNC_DURATION.labels(platform).observe(seconds)
    if calls:
        PLATFORM_CALLS.labels(platform).inc(calls)
    if event == "sync.rate_limited":
        RATE_LIMIT_DEFERRALS.labels(platform).inc()


def record_outage_hold(platform: str) -> None:
    OUTAGE_HOLDS.labels(platform).inc()


def record_operator_problem(platform: str, cause: str) -> None:
    OPERATOR_PROBLEMS.labels(platform, cause).inc()


# Webhooks (docs/webhooks.md): counted in the worker process that made the attempt.
WEBHOOK_ATTEMPTS = Counter(
    "dravo_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, retry, failed, refused).",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "dravo_webhook_delivery_seconds",
    "Wall time of one webhook request, connect to status line.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
