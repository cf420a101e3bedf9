"""On-demand refresh: the only worker module the API imports.

`RefreshService.refresh(ids, wait_seconds)` asks the worker to sync the given accounts now, on the
high-priority `refresh` queue, and waits up to `wait_seconds` for them:

- an account whose last attempt is younger than DRAVO_REFRESH_MIN_INTERVAL_SECONDS, or that waits
  for a reconnect, is not asked again (`skipped_recent`);
- concurrent refreshes of one account share one task: `SET dravo:refresh:<id> NX PX` decides who
  enqueues; the others just wait for the same outcome (single flight across API replicas);
- completion is seen on the pub/sub channel the task publishes to after its commit (one shared
  subscription per process, `worker.completions`), with a slow poll of `last_attempt_at` as a
  fallback for a lost message;
- the call never blocks much past `wait_seconds`: publishing gives up within ~1 s, and a Redis
  failure while enqueueing raises `RefreshUnavailable` (the API answers 503).

Importing this module pulls in neither Celery nor adapters; the publisher is built on first use.
Accounts unknown to the database are ignored (they appear in no set of the result).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import redis
import sqlalchemy
from sqlalchemy import select

from models.base import utcnow
from models.tables import AccountSync
from ops.settings import Settings
from worker.completions import CompletionListener
from worker.names import REFRESH_QUEUE, SYNC_ACCOUNT, refresh_lock_key

if TYPE_CHECKING:
    from celery import Celery

# How long the first call waits for the completion subscription before relying on polling.
LISTENER_START_SECONDS = 1.0
# Enqueueing may overrun the wait by this much before the call gives up with RefreshUnavailable.
ENQUEUE_SLACK_SECONDS = 1.0
# How often the wait re-reads the database in case a completion message was missed.
POLL_SECONDS = 1.0
# A clock step between this process and the worker must not hide a completion.
CLOCK_SLACK = timedelta(seconds=1)


class RefreshUnavailable(Exception):
    """The refresh could not be enqueued: the broker (Redis) is unreachable."""


@dataclass(frozen=True)
class RefreshResult:
    finished: frozenset[str]  # synced (row written) within the wait
    skipped_recent: frozenset[str]  # read within DRAVO_REFRESH_MIN_INTERVAL_SECONDS: no platform call
    pending: frozenset[str]  # still queued/running when the wait ended


@dataclass(frozen=True)
class _RowState:
    last_attempt_at: datetime | None
    sync_status: str


class RefreshService:
    """Thread-safe; one per process (it owns one pub/sub connection, see worker.completions)."""

    def __init__(self, settings: Settings, engine: sqlalchemy.Engine, redis_client: redis.Redis) -> None:
        self._settings = settings
        self._engine = engine
        self._redis = redis_client
        self._publisher: Celery | None = None
        self._publisher_lock = threading.Lock()
        self._min_interval = timedelta(seconds=settings.refresh_min_interval_seconds)
        # The marker outlives any sane wait; the task deletes it when done, and a lost task
        # only delays the next refresh of that account by this much.
        self._lock_ms = max(settings.lease_seconds, 30) * 1000
        self._listener = CompletionListener(redis_client)
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dravo-refresh")

    def refresh(self, account_ids: Sequence[str], wait_seconds: float) -> RefreshResult:
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return RefreshResult(frozenset(), frozenset(), frozenset())
        # Listen before reading the rows: a completion between the two is not lost.
        self._listener.ensure_started(timeout=min(LISTENER_START_SECONDS, max(wait_seconds, 0.0)))
        baseline = self._listener.snapshot(set(ids))
        started = utcnow() - CLOCK_SLACK
        states = self._states(ids)
        skipped = {i for i, s in states.items() if self._skip(s, started + CLOCK_SLACK)}
        waiting = {i for i in states if i not in skipped}
        if waiting:
            self._enqueue_within(sorted(waiting), deadline)
        finished = self._wait(waiting, baseline, started, deadline) if waiting else set()
        return RefreshResult(
            finished=frozenset(finished),
            skipped_recent=frozenset(skipped),
            pending=frozenset(waiting - finished),
        )

    def close(self) -> None:
        self._listener.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._publisher_lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None

    def _skip(self, state: _RowState, now: datetime) -> bool:
        if state.sync_status == "requires_reconnect":
            return True  # no platform call until the user reconnects
        last = state.last_attempt_at
        return last is not None and now - last < self._min_interval

    def _states(self, ids: list[str]) -> dict[str, _RowState]:
        query = select(AccountSync.account_id, AccountSync.last_attempt_at, AccountSync.sync_status).where(
            AccountSync.account_id.in_(ids)
        )
        with self._engine.connect() as conn:
            return {row[0]: _RowState(row[1], row[2]) for row in conn.execute(query)}

    def _last_attempts(self, ids: set[str]) -> dict[str, datetime | None]:
        query = select(AccountSync.account_id, AccountSync.last_attempt_at).where(
            AccountSync.account_id.in_(sorted(ids))
        )
        with self._engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def _enqueue_within(self, account_ids: list[str], deadline: float) -> None:
        # Redis clients retry connects with backoff (seconds); the caller's deadline wins.
        job = self._executor.submit(self._enqueue_all, account_ids)
        try:
            job.result(timeout=max(deadline - time.monotonic(), 0.0) + ENQUEUE_SLACK_SECONDS)
        except FutureTimeout:
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

    def _wait(
        self, waiting: set[str], baseline: dict[str, int], started: datetime, deadline: float
    ) -> set[str]:
        finished: set[str] = set()
        next_poll = time.monotonic() + POLL_SECONDS
        while True:
            pending = waiting - finished
            now = time.monotonic()
            if not pending or now >= deadline:
                break
            timeout = max(0.0, min(deadline, next_poll) - now)
            finished |= self._listener.wait({i: baseline[i] for i in pending}, timeout)
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_SECONDS
                finished |= self._attempted_since(waiting - finished, started)
        if waiting - finished:  # a completion in the last poll interval still counts
            finished |= self._attempted_since(waiting - finished, started)
        return finished

    def _attempted_since(self, ids: set[str], started: datetime) -> set[str]:
        if not ids:
            return set()
        return {i for i, at in self._last_attempts(ids).items() if at is not None and at >= started}


def build_refresh_service(
    settings: Settings, engine: sqlalchemy.Engine, redis_client: redis.Redis
) -> RefreshService:
    """The API's composition root calls this once per process."""
    return RefreshService(settings, engine, redis_client)


__all__ = ["RefreshResult", "RefreshService", "RefreshUnavailable", "build_refresh_service"]
