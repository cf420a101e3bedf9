"""One pub/sub subscription per process for "account X's sync outcome is committed".

Every `sync.account` publishes on `dravo:sync-done:<id>` after its commit. Instead of one
subscription per waiting request (100 concurrent refreshes would hold 100 Redis connections),
one asyncio task pattern-subscribes and bumps a per-account counter; waiters await an event and
hold no thread. If Redis goes away the task reconnects, and waiters fall back to polling the
database (see `worker.refresh`), so a lost message only costs latency.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import redis
import redis.asyncio as aredis
import structlog

from worker.names import sync_done_channel

log = structlog.get_logger()

PATTERN = sync_done_channel("*")
PREFIX = sync_done_channel("")
RECONNECT_SECONDS = 1.0


class AsyncCompletionListener:
    """The subscription of one asyncio process (the API).

    One task pattern-subscribes on an asyncio Redis client; each waiter registers an event for the
    accounts it waits for and is woken only by those (no thundering herd over every waiter).
    Built and used on one event loop.
    """

    def __init__(self, client: aredis.Redis) -> None:
        self._redis = client
        self._counts: Counter[str] = Counter()
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Bumped at every (re)subscription: a waiter that saw the same value at its start and end
        # missed no message (pub/sub loses messages only across a disconnect).
        self.generation = 0

    async def ensure_started(self, timeout: float) -> bool:
        """Start the task once; True when the subscription is live (else: poll the DB)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="dravo-sync-done")
        if self._subscribed.is_set():
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._subscribed.wait()
        except TimeoutError:
            return False
        return True

    def live(self) -> int | None:
        """The current generation while subscribed, else None."""
        return self.generation if self._subscribed.is_set() else None

    def snapshot(self, account_ids: set[str]) -> dict[str, int]:
        return {i: self._counts[i] for i in account_ids}

    async def wait(self, baseline: dict[str, int], timeout: float) -> set[str]:
        """Wait up to `timeout` for one of `baseline`'s accounts; return those completed since."""
        done = {i for i, n in baseline.items() if self._counts[i] > n}
        if done or timeout <= 0:
            return done
        event = asyncio.Event()
        for account_id in baseline:
            self._waiters.setdefault(account_id, set()).add(event)
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            for account_id in baseline:
                events = self._waiters.get(account_id)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._waiters[account_id]
        return {i for i, n in baseline.items() if self._counts[i] > n}

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(PATTERN)
                self.generation += 1
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "pmessage":
                        self._record(message["channel"])
            except (redis.RedisError, OSError) as exc:
                log.warning("refresh.listener_disconnected", error=type(exc).__name__)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(redis.RedisError, OSError, RuntimeError):
                    await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call, unused-ignore]
            await asyncio.sleep(RECONNECT_SECONDS)

    def _record(self, channel: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        if not name.startswith(PREFIX):
            return
        account_id = name[len(PREFIX) :]
        self._counts[account_id] += 1
        for event in self._waiters.get(account_id, ()):
            event.set()
