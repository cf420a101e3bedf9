"""The webhook sweep (`webhooks.sweep`, every DRAVO_WEBHOOK_SWEEP_INTERVAL_SECONDS from beat):
fan new outbox events out to their endpoints, hand endpoints with due deliveries to delivery
tasks, prune old events.

At most DRAVO_WEBHOOK_MAX_ACTIVE_ENDPOINTS endpoints are served at once, one task each, tracked
in a Redis sorted set scored by when the claim runs out (a killed worker's entry expires by
itself; a running task renews its entry, worker.webhooks.renewal). So webhook work never holds
more than that many worker slots, whatever the receivers do.

Slots are handed out fairly between workspaces: the workspace serving the fewest endpoints goes
first, and one workspace holds at most DRAVO_WEBHOOK_MAX_ACTIVE_PER_WORKSPACE of them (fewer than
all, so a slot is left to the others), so one tenant's backlog or dead receivers can't hold back
another tenant's deliveries.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
import structlog
from sqlalchemy import text

from models import outbox
from models.outbox import DueEndpoint
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


def pick(
    due: list[DueEndpoint], active: set[str], active_by_workspace: Counter[str], room: int, share: int
) -> list[DueEndpoint]:
    """Which due endpoints get the `room` free slots: over and over, the endpoint (in `due`'s fair
    order) of the workspace holding the fewest slots, never past `share` slots per workspace."""
    held = Counter(active_by_workspace)
    waiting = [d for d in due if d.endpoint_id not in active]
    chosen: list[DueEndpoint] = []
    while waiting and len(chosen) < room:
        allowed = [d for d in waiting if held[d.workspace_id] < share]
        if not allowed:
            break
        fewest = min(held[d.workspace_id] for d in allowed)
        best = next(d for d in allowed if held[d.workspace_id] == fewest)
        chosen.append(best)
        held[best.workspace_id] += 1
        waiting.remove(best)
    return chosen


def hand_out(deps: WorkerDeps, due: list[DueEndpoint], publish: Publish) -> int:
    now = time.time()
    try:
        deps.redis.zremrangebyscore(ACTIVE_KEY, "-inf", now)
        members: list[bytes] = list(deps.redis.zrange(ACTIVE_KEY, 0, -1))  # type: ignore[arg-type]
        active = {m.decode() for m in members}
        max_active = deps.settings.webhook_max_active_endpoints
        room = max_active - len(active)
        if room <= 0:
            return 0
        with deps.sessions() as session:
            active_by_workspace = Counter(outbox.workspaces_of(session, sorted(active)).values())
        handed = 0
        share = min(deps.settings.webhook_max_active_per_workspace, max_active)
        for chosen in pick(due, active, active_by_workspace, room, share):
            if deps.redis.zadd(ACTIVE_KEY, {chosen.endpoint_id: now + hold_seconds(deps)}, nx=True):
                publish(chosen.endpoint_id)
                handed += 1
        return handed
    except redis.RedisError as exc:
        # Nothing can be enqueued anyway; the deliveries stay due for the next sweep.
        log.warning("webhook.sweep_redis_unavailable", error=type(exc).__name__)
        return 0


def renew(deps: WorkerDeps, endpoint_id: str) -> None:
    """A running task's endpoint stays held (XX: only if it still is; a released one is not
    taken again by a late renewal)."""
    try:
        deps.redis.zadd(ACTIVE_KEY, {endpoint_id: time.time() + hold_seconds(deps)}, xx=True)
    except redis.RedisError as exc:
        log.warning("webhook.renew_failed", endpoint_id=endpoint_id, error=type(exc).__name__)


def release(deps: WorkerDeps, endpoint_id: str) -> None:
    try:
        deps.redis.zrem(ACTIVE_KEY, endpoint_id)
    except redis.RedisError as exc:
        log.warning("webhook.release_failed", endpoint_id=endpoint_id, error=type(exc).__name__)
