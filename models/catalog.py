"""The self-healing metric catalog: metrics a platform refused, kept in `metric_rejections`.

An adapter that sees "this metric no longer exists" calls `reject(...)`; every later sync (in any
process) skips that metric instead of failing on it again. A rejection is re-checked after
`recheck_after` (the platform may bring a metric back, or the refusal was a fluke): it is then
requested once more, and a new refusal simply refreshes `last_seen_at`.

Reads are cached per process for `cache_seconds`, so a sync costs no query in the common case.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import Platform, RejectedMetric
from models.base import utcnow
from models.tables import MetricRejection

MAX_REASON = 500


class DbMetricCatalog:
    """`adapters.base.MetricCatalog` over `metric_rejections`; thread-safe."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        cache_seconds: float = 60.0,
        recheck_after: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = session_factory
        self._cache_seconds = cache_seconds
        self._recheck_after = recheck_after
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    def rejected(self, platform: Platform) -> frozenset[str]:
        with self._lock:
            cached = self._cache.get(platform)
            if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
                return cached[1]
        since = self._clock() - self._recheck_after
        with self._sessions() as session:
            metrics = frozenset(
                session.scalars(
                    select(MetricRejection.metric).where(
                        MetricRejection.platform == platform, MetricRejection.last_seen_at > since
                    )
                )
            )
        with self._lock:
            self._cache[platform] = (time.monotonic(), metrics)
        return metrics

    def reject(self, rejection: RejectedMetric) -> None:
        now = self._clock()
        reason = rejection.reason[:MAX_REASON]
        statement = insert(MetricRejection).values(
            platform=rejection.platform,
            metric=rejection.metric,
            reason=reason,
            first_seen_at=now,
            last_seen_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[MetricRejection.platform, MetricRejection.metric],
            set_={"reason": reason, "last_seen_at": now},
        )
        with self._sessions.begin() as session:
            session.execute(statement)
        with self._lock:
            self._cache.pop(rejection.platform, None)

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
