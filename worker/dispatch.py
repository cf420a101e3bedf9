"""The dispatcher tick (`sync.dispatch_due`): lease due accounts, enqueue one sync each.

Per platform, the batch is the smallest of DRAVO_DISPATCH_BATCH_SIZE, what the platform's app
budget can carry now, and the room left in its queue, so a backlog after an outage drains at
the rate the budgets allow, most overdue first, and the broker never holds more than one batch
per platform. Claims are committed before enqueueing: a lost message (or a dead Redis) only
delays that account until its lease expires and a later tick claims it again. Two dispatchers
(two beats by mistake) claim disjoint rows (SKIP LOCKED + the lease), so no account is called
twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
import structlog

from adapters.base import PLATFORMS
from models import sync_state
from models.sync_state import DispatchClaim
from ops.foundation.metrics import DISPATCHED
from worker.composition import WorkerDeps
from worker.dispatch_lag import record_dispatch_lag
from worker.names import platform_queue

log = structlog.get_logger()

Publish = Callable[[Sequence[DispatchClaim]], int]


@dataclass
class DispatchReport:
    claimed: dict[str, int] = field(default_factory=dict)
    enqueued: int = 0

    @property
    def total(self) -> int:
        return sum(self.claimed.values())


def batch_limit(deps: WorkerDeps, platform: str) -> int:
    batch = deps.settings.dispatch_batch_size
    try:
        queued = int(deps.redis.llen(platform_queue(platform)))
        affordable = deps.budget.dispatchable(platform)
    except redis.RedisError as exc:
        # Nothing could be enqueued anyway; leave the rows due for the next tick.
        log.warning("dispatch.redis_unavailable", platform=platform, error=type(exc).__name__)
        return 0
    return max(0, min(batch - queued, affordable))


def dispatch_due(deps: WorkerDeps, publish: Publish, now: datetime | None = None) -> DispatchReport:
    report = DispatchReport()
    when = now or datetime.now(UTC)
    record_dispatch_lag(deps.sessions, when)
    for platform in PLATFORMS:
        limit = batch_limit(deps, platform)
        if limit == 0:
            continue
        with deps.sessions.begin() as session:
            claims = sync_state.claim_due(session, platform, limit, when, deps.lease)
        if not claims:
            continue
        report.claimed[platform] = len(claims)
        DISPATCHED.labels(platform).inc(len(claims))
        report.enqueued += publish(claims)
        log.info("dispatch.claimed", platform=platform, claimed=len(claims), limit=limit)
    return report
