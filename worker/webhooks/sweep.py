"""The webhook sweep (`webhooks.sweep`, every DRAVO_WEBHOOK_SWEEP_INTERVAL_SECONDS from beat):
fan new outbox events out to their endpoints, hand endpoints with due deliveries to delivery
tasks, prune old events.

At most DRAVO_WEBHOOK_MAX_ACTIVE_ENDPOINTS endpoints are served at once, one task each, tracked
in a Redis sorted set scored by when the claim runs out (a killed worker's entry expires by
itself). So webhook work never holds more than that many worker slots, whatever the receivers do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
import structlog
from sqlalchemy import text

from models import outbox
from worker.composition import WorkerDeps
from worker.webhooks.deps import lease
from worker.webhooks.names import ACTIVE_KEY

log = structlog.get_logger()

# Fan-out and prune rounds per sweep: bounded, so one sweep never runs long.
MAX_ROUNDS = 10
PRUNE_BATCH = 1000
# A burst of deliveries into a table whose statistics predate it makes Postgres plan the claim
# as a scan of the whole backlog (benchmark 6 measured 6x the database CPU per delivery) until
# autovacuum analyzes it; analyzing after a large fan-out costs milliseconds.
ANALYZE_AFTER_DELIVERIES = 1000

Publish = Callable[[str], None]


@dataclass
class SweepReport:
    events: int = 0
    deliveries: int = 0
    handed_out: int = 0
    pruned: int = 0


def hold_seconds(deps: WorkerDeps) -> float:
    """How long an endpoint counts as served once handed out: the task's budget plus one lease."""
    return deps.settings.webhook_task_budget_seconds + lease(deps.settings).total_seconds()


def sweep(deps: WorkerDeps, publish: Publish, now: datetime | None = None) -> SweepReport:
    report = SweepReport()
    settings = deps.settings
    when = now or datetime.now(UTC)
    for _ in range(MAX_ROUNDS):
        with deps.sessions.begin() as session:
            events, deliveries = outbox.fan_out(session, when, settings.webhook_fan_out_batch)
        report.events += events
        report.deliveries += deliveries
        if events < settings.webhook_fan_out_batch:
            break
    if report.deliveries >= ANALYZE_AFTER_DELIVERIES:
        with deps.autocommit() as session:
            session.execute(text("ANALYZE webhook_deliveries"))
    with deps.sessions() as session:
        due = outbox.due_endpoints(session, when)
    if due:
        report.handed_out = hand_out(deps, due, publish)
    cutoff = when - timedelta(seconds=settings.webhook_retention_seconds)
    for _ in range(MAX_ROUNDS):
        with deps.sessions.begin() as session:
            pruned = outbox.prune(session, cutoff, PRUNE_BATCH)
        report.pruned += pruned
        if pruned < PRUNE_BATCH:
            break
    if report.events or report.handed_out or report.pruned:
        log.info(
            "webhook.sweep",
            events=report.events,
            deliveries=report.deliveries,
            endpoints=report.handed_out,
            pruned=report.pruned,
        )
    return report


def hand_out(deps: WorkerDeps, due: list[str], publish: Publish) -> int:
    now = time.time()
    try:
        deps.redis.zremrangebyscore(ACTIVE_KEY, "-inf", now)
        members: list[bytes] = list(deps.redis.zrange(ACTIVE_KEY, 0, -1))  # type: ignore[arg-type]
        active = {m.decode() for m in members}
        room = deps.settings.webhook_max_active_endpoints - len(active)
        handed = 0
        for endpoint_id in due:
            if handed >= room:
                break
            if endpoint_id in active:
                continue
            if deps.redis.zadd(ACTIVE_KEY, {endpoint_id: now + hold_seconds(deps)}, nx=True):
                publish(endpoint_id)
                handed += 1
        return handed
    except redis.RedisError as exc:
        # Nothing can be enqueued anyway; the deliveries stay due for the next sweep.
        log.warning("webhook.sweep_redis_unavailable", error=type(exc).__name__)
        return 0


def release(deps: WorkerDeps, endpoint_id: str) -> None:
    try:
        deps.redis.zrem(ACTIVE_KEY, endpoint_id)
    except redis.RedisError as exc:
        log.warning("webhook.release_failed", endpoint_id=endpoint_id, error=type(exc).__name__)
