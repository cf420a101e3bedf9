"""kombu's Redis transport, reusing one Redis client object per channel.

Stock kombu builds a new `redis.Redis` (response-callback tables and all) for every command it
sends outside the consumer's own connection: each delivered message's unacked-index write, each
ack, each publish and event. That was ~5 % of a worker's CPU per sync. A `redis.Redis` holds no
per-command state (every command borrows a connection from the pool), so one per channel and pool
serves all of them, from any thread. Commands, keys and the wire protocol are unchanged.

It can also hand back, instead of sending, the messages `basic_publish` is given (`capturing`):
the dispatcher builds one `sync.account` message through Celery's own `apply_async` that way and
sends its batch as copies of it (`worker.publish`).

Selected for `redis://` brokers by `worker.celery_app.broker_transport`; other schemes (rediss,
sentinel) keep kombu's own transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kombu.transport import redis as kombu_redis


@dataclass(frozen=True)
class Captured:
    """A message as kombu's producer prepared it, before the channel encodes and routes it."""

    message: dict[str, Any]
    exchange: str
    routing_key: str
    options: dict[str, Any]


class Channel(kombu_redis.Channel):
    _reused_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:  # the consumer's BRPOP client: kombu caches it itself
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        pool = self.pool  # a new pool after a reconnect gets a new client
        client = self._reused_client
        if client is None or client.connection_pool is not pool:
            client = self._reused_client = super()._create_client()  # type: ignore[no-untyped-call]
        return client

    _captured: list[Captured] | None = None

    @contextmanager
    def capturing(self) -> Iterator[list[Captured]]:
        """Collect what is published on this channel in the block instead of sending it.

        Only for a channel this thread holds alone (a producer acquired from the pool).
        """
        captured: list[Captured] = []
        self._captured = captured
        try:
            yield captured
        finally:
            self._captured = None

    def basic_publish(self, message: dict[str, Any], exchange: str, routing_key: str, **kwargs: Any) -> Any:
        if self._captured is not None:
            self._captured.append(Captured(message, exchange, routing_key, kwargs))
            return None
        return super().basic_publish(message, exchange, routing_key, **kwargs)  # type: ignore[no-untyped-call]


class Transport(kombu_redis.Transport):
    Channel = Channel
