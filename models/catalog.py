"""Metric memory: metrics a platform refused an account, kept in `metric_refusals`.

A refusal is remembered for the account and its login flavour only: that account's later syncs
skip the metric (its row stays `partial` and keeps the metric's last value), and no other
account is affected. A metric counts as retired platform-wide only when accounts of at least
`min_workspaces` workspaces saw the platform's own retirement wording; from then on no account
requests it and its absence is documented, not warned about. Refusals are re-checked after
`recheck_after` (the platform may bring a metric back, or the refusal was a fluke).

The platform-wide retirements are cached per process for `cache_seconds`; an account's own
refusals are one primary-key range read per sync.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import AccountRef, MetricMemory, RejectedMetric
from models.base import utcnow
from models.tables import Account, MetricRefusal

MAX_REASON = 500


class DbMetricCatalog:
    """`adapters.base.MetricCatalog` over `metric_refusals`; thread-safe."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        cache_seconds: float = 60.0,
        recheck_after: timedelta = timedelta(days=7),
        min_workspaces: int = 2,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = session_factory
        self._cache_seconds = cache_seconds
        self._recheck_after = recheck_after
        self._min_workspaces = min_workspaces
        self._clock = clock
        self._lock = threading.Lock()
        self._retired: dict[str, tuple[float, frozenset[str]]] = {}

    def memory(self, account: AccountRef) -> MetricMemory:
        since = self._clock() - self._recheck_after
        with self._sessions() as session:
            refused = frozenset(
                session.scalars(
                    select(MetricRefusal.metric).where(
                        MetricRefusal.account_id == account.account_id,
                        MetricRefusal.auth == account.auth,
                        MetricRefusal.last_seen_at > since,
                    )
                )
            )
            retired = self._retired_metrics(session, account.platform, since)
        return MetricMemory(refused=refused, retired=retired)

    def _retired_metrics(self, session: Session, platform: str, since: datetime) -> frozenset[str]:
        with self._lock:
            cached = self._retired.get(platform)
            if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
                return cached[1]
        metrics = frozenset(
            session.scalars(
                select(MetricRefusal.metric)
                .join(Account, Account.id == MetricRefusal.account_id)
                .where(
                    MetricRefusal.platform == platform,
                    MetricRefusal.retirement.is_(True),
                    MetricRefusal.last_seen_at > since,
                )
                .group_by(MetricRefusal.metric)
                .having(func.count(func.distinct(Account.workspace_id)) >= self._min_workspaces)
            )
        )
        with self._lock:
            self._retired[platform] = (time.monotonic(), metrics)
        return metrics

    def reject(self, account: AccountRef, rejection: RejectedMetric) -> None:
        now = self._clock()
        reason = rejection.reason[:MAX_REASON]
        statement = insert(MetricRefusal).values(
            account_id=account.account_id,
            auth=account.auth,
            metric=rejection.metric,
            platform=rejection.platform,
            reason=reason,
            retirement=rejection.retirement,
            first_seen_at=now,
            last_seen_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[MetricRefusal.account_id, MetricRefusal.auth, MetricRefusal.metric],
            set_={"reason": reason, "retirement": rejection.retirement, "last_seen_at": now},
        )
        with self._sessions.begin() as session:
            session.execute(statement)
        with self._lock:
            self._retired.pop(rejection.platform, None)

    def invalidate(self) -> None:
        with self._lock:
            self._retired.clear()
