"""On-demand refresh: the only worker module the API imports.

The API asks in two steps, both awaited on its event loop, so a waiting refresh holds no thread:

- `plan(ids)` reads the rows and sorts the accounts into those worth a platform call now
  (`candidates`, stalest first) and those answered from the cache: read in the last
  DRAVO_REFRESH_MIN_INTERVAL_SECONDS or waiting for a reconnect (`skipped_recent`), deferred by a
  rate limit until a reset still ahead (`deferred`: its row carries the deferral warning), or of a
  platform whose app budget has nothing left above the scheduled syncs' reserve (`budget_spent`)
  or that is held for an outage (`held`, worker.outage);
- `run(plan, ids, wait_seconds)` enqueues the admitted candidates on the high-priority `refresh`
  queue and waits up to `wait_seconds` for them.

Concurrent refreshes of one account share one task: `SET dravo:refresh:<id> NX PX` decides who
enqueues; the others just wait for the same outcome (single flight across API replicas).
Completion is seen on the pub/sub channel the task publishes to after its commit (one shared
asyncio subscription per process, `worker.completions.AsyncCompletionListener`); `last_attempt_at`
is polled every second only while that subscription is down or was re-made during the wait (a
message may have been lost), and once at the end of every wait. Enqueueing (Redis SET, kombu publish) is the
only blocking part: it runs in a small thread pool of its own, and a Redis failure or a publish
that overruns the wait by ENQUEUE_SLACK_SECONDS raises `RefreshUnavailable` (the API answers 503).

Its two reads (the rows to plan, the completion polls) are `models.queries` functions run on a
connection its caller lends (the API lends one of its read pool's, `api.readpool.ReadConnections`).
Importing this module pulls in neither Celery nor adapters; the publisher is built on first use.
Accounts unknown to the database are ignored (they appear in no set of the result).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import redis
import redis.asyncio as aredis

from models.base import utcnow
from models.queries import ConnectionLender, attempted_since, refresh_states
from models.read_models import RefreshRowState
from ops.foundation.settings import Settings
from worker.completions import AsyncCompletionListener
from worker.names import REFRESH_QUEUE, SYNC_ACCOUNT, refresh_lock_key

if TYPE_CHECKING:
    from celery import Celery

    from worker.budget import PlatformBudget, RefreshShare

# How long the first call waits for the completion subscription before relying on polling.
LISTENER_START_SECONDS = 1.0
# Enqueueing may overrun the wait by this much before the call gives up with RefreshUnavailable.
ENQUEUE_SLACK_SECONDS = 1.0
# How often the wait re-reads the database in case a completion message was missed.
POLL_SECONDS = 1.0
# A clock step between this process and the worker must not hide a completion.
CLOCK_SLACK = timedelta(seconds=1)
# Threads that publish refresh tasks; a publish takes a millisecond, so a few serve any storm.
ENQUEUE_THREADS = 4


class RefreshUnavailable(Exception):
    """The refresh could not be enqueued: the broker (Redis) is unreachable."""


@dataclass(frozen=True)
class RefreshPlan:
    candidates: tuple[str, ...]  # worth a platform call now, stalest first
    skipped_recent: frozenset[str]  # read within DRAVO_REFRESH_MIN_INTERVAL_SECONDS, or requires_reconnect
    deferred: frozenset[str]  # a rate limit's reset is still ahead: the cached row says so
    budget_spent: frozenset[str]  # the platform's app budget above the scheduled reserve is spent
    held: frozenset[str] = frozenset()  # the platform is held for an outage (worker.outage)
    baseline: dict[str, int] = field(default_factory=dict, repr=False)
    started: datetime = field(default_factory=utcnow, repr=False)
    # The listener's generation when the baseline was taken (None: not subscribed).
    generation: int | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RefreshResult:
    finished: frozenset[str]  # synced (row written) within the wait
    skipped_recent: frozenset[str]
    pending: frozenset[str]  # still queued/running when the wait ended
    deferred: frozenset[str] = frozenset()
    budget_spent: frozenset[str] = frozenset()
    held: frozenset[str] = frozenset()


class RefreshService:
    """One per API process, used on one event loop (it owns one pub/sub connection)."""

    def __init__(
        self,
        settings: Settings,
        rows: ConnectionLender,
        redis_client: redis.Redis,
        async_redis: aredis.Redis,
    ) -> None:
        from worker.budget import budgets_from_settings

        self._settings = settings
        self._rows = rows
        self._redis = redis_client
        self._async_redis = async_redis
        self._budgets: dict[str, PlatformBudget] = budgets_from_settings(settings)
        self._reserve = settings.scheduled_budget_reserve_percent / 100
        self._publisher: Celery | None = None
        self._publisher_lock = threading.Lock()
        self._min_interval = timedelta(seconds=settings.refresh_min_interval_seconds)
        # The marker outlives any sane wait; the task deletes it when done, and a lost task
        # only delays the next refresh of that account by this much.
        self._lock_ms = max(settings.lease_seconds, 30) * 1000
        self._listener = AsyncCompletionListener(async_redis)
        self._enqueue_limiter: anyio.CapacityLimiter | None = None

    async def plan(self, account_ids: Sequence[str]) -> RefreshPlan:
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return RefreshPlan((), frozenset(), frozenset(), frozenset())
        # Listen before reading the rows: a completion between the two is not lost.
        await self._listener.ensure_started(LISTENER_START_SECONDS)
        generation = self._listener.live()
        baseline = self._listener.snapshot(set(ids))
        started = utcnow() - CLOCK_SLACK
        states = await self._states(ids)
        now = started + CLOCK_SLACK
        skipped = {i for i, s in states.items() if self._skip(s, now)}
        deferred = {
            i
            for i, s in states.items()
            if i not in skipped and s.deferred_note and s.next_sync_at is not None and s.next_sync_at > now
        }
        rest = [i for i in states if i not in skipped and i not in deferred]
        shares = await self._budget_shares({states[i].platform for i in rest})
        budget_spent = {i for i in rest if shares.get(states[i].platform) == "spent"}
        held = {i for i in rest if shares.get(states[i].platform) == "held"}
        candidates = sorted(
            (i for i in rest if i not in budget_spent and i not in held),
            key=lambda i: (states[i].last_attempt_at is not None, states[i].last_attempt_at or now, i),
        )
        return RefreshPlan(
            candidates=tuple(candidates),
            skipped_recent=frozenset(skipped),
            deferred=frozenset(deferred),
            budget_spent=frozenset(budget_spent),
            held=frozenset(held),
            baseline=baseline,
            started=started,
            generation=generation,
        )

    async def run(self, plan: RefreshPlan, account_ids: Sequence[str], deadline: float) -> RefreshResult:
        """Refresh `account_ids` (admitted candidates of `plan`); wait until `deadline` at most.

        `deadline` is on `time.monotonic()`'s clock, set by the caller when its request began, so
        reading the rows and planning count against the same DRAVO_REFRESH_WAIT_SECONDS.
        """
        waiting = {i for i in account_ids if i in plan.baseline}
        if waiting:
            await self._enqueue_within(sorted(waiting), deadline)
        finished = await self._wait(waiting, plan, deadline) if waiting else set()
        return RefreshResult(
            finished=frozenset(finished),
            skipped_recent=plan.skipped_recent,
            pending=frozenset(waiting - finished),
            deferred=plan.deferred,
            budget_spent=plan.budget_spent,
            held=plan.held,
        )

    async def refresh(self, account_ids: Sequence[str], wait_seconds: float) -> RefreshResult:
        """`plan` then `run` of every candidate (no per-workspace limits: those are the API's)."""
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        plan = await self.plan(account_ids)
        return await self.run(plan, plan.candidates, deadline)

    async def start(self) -> None:
        """Subscribe and build the publisher before the first request needs them."""
        await self._listener.ensure_started(LISTENER_START_SECONDS)
        await anyio.to_thread.run_sync(self._publisher_app)

    async def aclose(self) -> None:
        await self._listener.close()
        with self._publisher_lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None

    def _skip(self, state: RefreshRowState, now: datetime) -> bool:
        if state.sync_status == "requires_reconnect":
            return True  # no platform call until the user reconnects
        last = state.last_attempt_at
        return last is not None and now - last < self._min_interval

    async def _states(self, ids: list[str]) -> dict[str, RefreshRowState]:
        return await self._rows.run(lambda conn: refresh_states(conn, ids))

    async def _budget_shares(self, platforms: set[str]) -> dict[str, RefreshShare]:
        """Per platform: "left", "spent" (the refreshes' share of its app budget) or "held"."""
        from worker.budget import refresh_share

        if self._reserve <= 0:
            return {}
        shares: dict[str, RefreshShare] = {}
        for platform in sorted(platforms):
            try:
                shares[platform] = await refresh_share(
                    self._async_redis, self._budgets, platform, self._reserve
                )
            except redis.RedisError as exc:
                raise RefreshUnavailable(f"Redis unavailable: {type(exc).__name__}") from exc
        return shares

    async def _enqueue_within(self, account_ids: list[str], deadline: float) -> None:
        # Redis clients retry connects with backoff (seconds); the caller's deadline wins. An
        # abandoned publish finishes (or fails) in its thread; the request does not wait for it.
        if self._enqueue_limiter is None:
            self._enqueue_limiter = anyio.CapacityLimiter(ENQUEUE_THREADS)
        limit = max(deadline - time.monotonic(), 0.0) + ENQUEUE_SLACK_SECONDS
        try:
            with anyio.fail_after(limit):
                await anyio.to_thread.run_sync(
                    self._enqueue_all, account_ids, limiter=self._enqueue_limiter, abandon_on_cancel=True
                )
        except TimeoutError:
            raise RefreshUnavailable("Redis unavailable: no answer in time") from None

    def _enqueue_all(self, account_ids: list[str]) -> None:
        for account_id in account_ids:
            self._enqueue_once(account_id)

    def _enqueue_once(self, account_id: str) -> None:
        key = refresh_lock_key(account_id)
        try:
            acquired = self._redis.set(key, secrets.token_hex(8), nx=True, px=self._lock_ms)
        except redis.RedisError as exc:
            raise RefreshUnavailable(f"Redis unavailable: {type(exc).__name__}") from exc
        if not acquired:
            return  # someone else's refresh of this account is queued or running: share it
        from kombu.exceptions import OperationalError as BrokerError

        try:
            self._send(account_id)
        except (BrokerError, redis.RedisError, OSError) as exc:
            # Let the next request try again instead of waiting out the marker.
            with contextlib.suppress(redis.RedisError):
                self._redis.delete(key)
            raise RefreshUnavailable(f"broker unavailable: {type(exc).__name__}") from exc

    def _send(self, account_id: str) -> None:
        publisher = self._publisher_app()
        publisher.send_task(
            SYNC_ACCOUNT,
            args=[account_id],
            queue=REFRESH_QUEUE,
            routing_key=REFRESH_QUEUE,
            expires=self._lock_ms / 1000,
            retry=True,
        )

    def _publisher_app(self) -> Celery:
        with self._publisher_lock:
            if self._publisher is None:
                from worker.celery_app import make_celery

                self._publisher = make_celery(self._settings)
            return self._publisher

    async def _wait(self, waiting: set[str], plan: RefreshPlan, deadline: float) -> set[str]:
        baseline, started = plan.baseline, plan.started
        finished: set[str] = set()
        next_poll = time.monotonic() + POLL_SECONDS
        while True:
            pending = waiting - finished
            now = time.monotonic()
            if not pending or now >= deadline:
                break
            timeout = max(0.0, min(deadline, next_poll) - now)
            finished |= await self._listener.wait({i: baseline[i] for i in pending}, timeout)
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_SECONDS
                # While subscribed without a break since the baseline no message was lost: the
                # database is asked only when one may have been (a storm's waits then cost Redis
                # events, not a query a second each).
                if plan.generation is None or self._listener.live() != plan.generation:
                    finished |= await self._attempted_since(waiting - finished, started)
        if waiting - finished:  # a message lost in Redis itself (a worker's failed publish)
            finished |= await self._attempted_since(waiting - finished, started)
        return finished

    async def _attempted_since(self, ids: set[str], started: datetime) -> set[str]:
        if not ids:
            return set()
        return await self._rows.run(lambda conn: attempted_since(conn, sorted(ids), started))


def build_refresh_service(
    settings: Settings, rows: ConnectionLender, redis_client: redis.Redis, async_redis: aredis.Redis
) -> RefreshService:
    """The API's composition root calls this once per process."""
    return RefreshService(settings, rows, redis_client, async_redis)


__all__ = [
    "RefreshPlan",
    "RefreshResult",
    "RefreshService",
    "RefreshUnavailable",
    "build_refresh_service",
]
