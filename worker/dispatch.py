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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

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
Claim = TypeVar("Claim")
Claim_co = TypeVar("Claim_co", covariant=True)


class DispatchPorts(Protocol[Claim_co]):
    """What a tick asks of the world: production's are Postgres and Redis (`StorePorts`); the
    capacity simulation (ops.capacity) passes in-memory ones on a virtual clock to the same tick."""

    def queued(self, platform: str) -> int: ...

    def affordable(self, platform: str) -> int: ...

    def claim(self, platform: str, limit: int, now: datetime) -> Sequence[Claim_co]: ...


@dataclass
class DispatchReport:
    claimed: dict[str, int] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    enqueued: int = 0

    @property
    def total(self) -> int:
        return sum(self.claimed.values())


class StorePorts:
    """The production ports: queue depth and budget in Redis, the claim in Postgres."""

    def __init__(self, deps: WorkerDeps) -> None:
        self._deps = deps

    def queued(self, platform: str) -> int:
        return int(self._deps.redis.llen(platform_queue(platform)))

    def affordable(self, platform: str) -> int:
        return self._deps.budget.dispatchable(platform)

    def claim(self, platform: str, limit: int, now: datetime) -> list[DispatchClaim]:
        with self._deps.sessions.begin() as session:
            return sync_state.claim_due(session, platform, limit, now, self._deps.lease)


def batch_limit(ports: DispatchPorts[Claim], batch_size: int, platform: str) -> int:
    try:
        queued = ports.queued(platform)
        affordable = ports.affordable(platform)
    except redis.RedisError as exc:
        # Nothing could be enqueued anyway; leave the rows due for the next tick.
        log.warning("dispatch.redis_unavailable", platform=platform, error=type(exc).__name__)
        return 0
    return max(0, min(batch_size - queued, affordable))


def dispatch_tick(
    ports: DispatchPorts[Claim],
    batch_size: int,
    publish: Callable[[Sequence[Claim]], int],
    now: datetime,
    platforms: Iterable[str] = PLATFORMS,
) -> DispatchReport:
    """One tick's decisions: per platform, claim what the batch, the budget and the queue allow."""
    report = DispatchReport()
    for platform in platforms:
        limit = batch_limit(ports, batch_size, platform)
        if limit == 0:
            continue
        claims = ports.claim(platform, limit, now)
        if not claims:
            continue
        report.claimed[platform] = len(claims)
        report.limits[platform] = limit
        report.enqueued += publish(claims)
    return report


def dispatch_due(deps: WorkerDeps, publish: Publish, now: datetime | None = None) -> DispatchReport:
    when = now or datetime.now(UTC)
    record_dispatch_lag(deps.sessions, when)
    report = dispatch_tick(StorePorts(deps), deps.settings.dispatch_batch_size, publish, when)
    for platform, claimed in report.claimed.items():
        DISPATCHED.labels(platform).inc(claimed)
        log.info("dispatch.claimed", platform=platform, claimed=claimed, limit=report.limits[platform])
    return report
