"""On-demand refresh: the only worker module the API imports.

`RefreshService.refresh(ids, wait_seconds)` asks the worker to sync the given accounts now, on the
high-priority `refresh` queue, and waits up to `wait_seconds` for them:

- an account whose last attempt is younger than DRAVO_REFRESH_MIN_INTERVAL_SECONDS, or that waits
  for a reconnect, is not asked again (`skipped_recent`);
- concurrent refreshes of one account share one task: `SET dravo:refresh:<id> NX PX` decides who
  enqueues; the others just wait for the same outcome (single flight across API replicas);
- completion is seen on the pub/sub channel the task publishes to after its commit, with a slow
  poll of `last_attempt_at` as a fallback for a lost message;
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
import sqlalchemy
from sqlalchemy import select

from models.base import utcnow
from models.tables import AccountSync
from ops.settings import Settings
from worker.names import REFRESH_QUEUE, SYNC_ACCOUNT, refresh_lock_key, sync_done_channel

if TYPE_CHECKING:
    from celery import Celery

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
    """Thread-safe; one per process. Each call uses its own pub/sub connection."""

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

    def refresh(self, account_ids: Sequence[str], wait_seconds: float) -> RefreshResult:
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return RefreshResult(frozenset(), frozenset(), frozenset())
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            # Subscribe before reading the rows: a completion between the two is not lost.
            try:
                pubsub.subscribe(*(sync_done_channel(i) for i in ids))
            except redis.RedisError as exc:
                raise RefreshUnavailable(f"Redis unavailable: {type(exc).__name__}") from exc
            started = utcnow() - CLOCK_SLACK
            states = self._states(ids)
            skipped = {i for i, s in states.items() if self._skip(s, started + CLOCK_SLACK)}
            waiting = {i for i in states if i not in skipped}
            for account_id in sorted(waiting):
                self._enqueue_once(account_id)
            finished = self._wait(pubsub, waiting, started, deadline) if waiting else set()
        finally:
            _close_quietly(pubsub)
        return RefreshResult(
            finished=frozenset(finished),
            skipped_recent=frozenset(skipped),
            pending=frozenset(waiting - finished),
        )

    def close(self) -> None:
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

    def _wait(self, pubsub: Any, waiting: set[str], started: datetime, deadline: float) -> set[str]:
        finished: set[str] = set()
        channels = {sync_done_channel(i): i for i in waiting}
        next_poll = time.monotonic() + POLL_SECONDS
        pubsub_ok = True
        while finished != waiting:
            now = time.monotonic()
            if now >= deadline:
                break
            timeout = max(0.0, min(deadline, next_poll) - now)
            if pubsub_ok:
                try:
                    message = pubsub.get_message(timeout=timeout)
                except redis.RedisError:
                    pubsub_ok = False  # keep waiting on the database alone
                    message = None
                if message is not None and message.get("type") == "message":
                    channel = message["channel"]
                    name = channel.decode() if isinstance(channel, bytes) else str(channel)
                    if name in channels:
                        finished.add(channels[name])
                    continue
            else:
                time.sleep(timeout)
            if time.monotonic() >= next_poll or time.monotonic() >= deadline:
                next_poll = time.monotonic() + POLL_SECONDS
                attempts = self._last_attempts(waiting - finished)
                finished.update(i for i, at in attempts.items() if at is not None and at >= started)
        if finished != waiting:  # a completion in the last poll interval still counts
            attempts = self._last_attempts(waiting - finished)
            finished.update(i for i, at in attempts.items() if at is not None and at >= started)
        return finished


def _close_quietly(pubsub: Any) -> None:
    with contextlib.suppress(redis.RedisError):
        pubsub.close()


def build_refresh_service(
    settings: Settings, engine: sqlalchemy.Engine, redis_client: redis.Redis
) -> RefreshService:
    """The API's composition root calls this once per process."""
    return RefreshService(settings, engine, redis_client)


__all__ = ["RefreshResult", "RefreshService", "RefreshUnavailable", "build_refresh_service"]
