"""Operator read models: accounts by platform and status, staleness, expiring tokens.

Shared by `dravo-sync status` and the Prometheus freshness gauges, so both tell the same story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models.tables import Account, AccountSync


@dataclass(frozen=True)
class PlatformStatus:
    platform: str
    by_status: dict[str, int]
    stale: int  # rows past stale_after (or never read)
    overdue: int  # scheduled but not yet dispatched: next_sync_at in the past

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class ExpiringToken:
    account_id: str
    platform: str
    handle: str | None
    token_expires_at: datetime


@dataclass(frozen=True)
class StatusReport:
    generated_at: datetime
    platforms: list[PlatformStatus]
    expiring: list[ExpiringToken]
    oldest_overdue_at: datetime | None
    queue_depths: dict[str, int] = field(default_factory=dict)


def collect_status(session: Session, now: datetime, *, expiring_limit: int = 5) -> StatusReport:
    stale = case(
        (AccountSync.stale_after.is_(None), 1),
        (AccountSync.stale_after <= now, 1),
        else_=0,
    )
    overdue = case((AccountSync.next_sync_at < now, 1), else_=0)
    rows = session.execute(
        select(
            Account.platform,
            AccountSync.sync_status,
            func.count(),
            func.sum(stale),
            func.sum(overdue),
        )
        .join(AccountSync, AccountSync.account_id == Account.id)
        .where(Account.disconnected_at.is_(None))
        .group_by(Account.platform, AccountSync.sync_status)
    ).all()
    grouped: dict[str, dict[str, int]] = {}
    stale_counts: dict[str, int] = {}
    overdue_counts: dict[str, int] = {}
    for row in rows:
        platform, status = str(row[0]), str(row[1])
        grouped.setdefault(platform, {})[status] = int(row[2])
        stale_counts[platform] = stale_counts.get(platform, 0) + int(row[3] or 0)
        overdue_counts[platform] = overdue_counts.get(platform, 0) + int(row[4] or 0)
    platforms = [
        PlatformStatus(platform, grouped[platform], stale_counts[platform], overdue_counts[platform])
        for platform in sorted(grouped)
    ]
    expiring = [
        ExpiringToken(account.id, account.platform, account.handle, account.token_expires_at)
        for account in session.scalars(
            select(Account)
            .where(Account.token_expires_at.is_not(None))
            .order_by(Account.token_expires_at)
            .limit(expiring_limit)
        )
        if account.token_expires_at is not None
    ]
    oldest = session.scalar(select(func.min(AccountSync.next_sync_at)).where(AccountSync.next_sync_at < now))
    return StatusReport(generated_at=now, platforms=platforms, expiring=expiring, oldest_overdue_at=oldest)
