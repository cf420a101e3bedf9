"""The dispatcher's own freshness: how overdue the most overdue scheduled account is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.tables import PLATFORM_VALUES, AccountSync
from ops.foundation.metrics import DISPATCH_LAG, DISPATCH_LAST_TICK


def record_dispatch_lag(sessions: Callable[[], Session], now: datetime) -> None:
    """How overdue the most overdue scheduled account is: the scheduler's own freshness."""
    # One index probe per platform (the due index leads with platform); a global min would scan.
    with sessions() as session:
        oldest = [
            session.scalar(
                select(func.min(AccountSync.next_sync_at)).where(
                    AccountSync.platform == platform, AccountSync.next_sync_at.is_not(None)
                )
            )
            for platform in PLATFORM_VALUES
        ]
    due = [at for at in oldest if at is not None and at <= now]
    DISPATCH_LAG.set((now - min(due)).total_seconds() if due else 0.0)
    DISPATCH_LAST_TICK.set(now.timestamp())
