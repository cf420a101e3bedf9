"""What one API process holds: built by the lifespan (the composition root), torn down with it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_read_only_session_factory, make_session_factory
from ops.settings import Settings
from worker.refresh import RefreshService, build_refresh_service

# Redis calls of a request must fail fast when Redis is down, not hang the request.
REDIS_TIMEOUT_SECONDS = 2.0


class KeyUseThrottle:
    """Remembers, per process, which keys had their `last_used_at` written in the last minute."""

    def __init__(self, period_seconds: float = 60.0) -> None:
        self._period = period_seconds
        self._written: dict[int, float] = {}
        self._lock = threading.Lock()

    def due(self, key_id: int) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._written.get(key_id)
            if last is not None and now - last < self._period:
                return False
            self._written[key_id] = now
            if len(self._written) > 10_000:  # keys come and go; keep the map bounded
                self._written = {k: t for k, t in self._written.items() if now - t < self._period}
            return True


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    read_sessions: sessionmaker[Session]
    # Used for one thing only: the rate-limited `last_used_at` update of API keys.
    write_sessions: sessionmaker[Session]
    redis: redis.Redis
    refresh: RefreshService
    key_use: KeyUseThrottle = field(default_factory=KeyUseThrottle)

    def close(self) -> None:
        self.refresh.close()
        self.redis.close()
        self.engine.dispose()


def build_state(settings: Settings) -> AppState:
    engine = make_engine(settings.database_url)
    redis_client = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    return AppState(
        settings=settings,
        engine=engine,
        read_sessions=make_read_only_session_factory(engine),
        write_sessions=make_session_factory(engine),
        redis=redis_client,
        refresh=build_refresh_service(settings, engine, redis_client),
    )
