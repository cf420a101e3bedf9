"""Rows for API tests, written straight to the tables (the API only reads them)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy.orm import Session, sessionmaker

from models.admin import create_api_key, create_workspace
from models.tables import Account, AccountSync, MetricSnapshot

JWT_SECRET = "test-jwt-secret-long-enough-for-hs256-and-hs512-0123456789abcdefghij"
# The seed's example rows.
SEED_TIME = datetime(2026, 6, 29, 9, 0, tzinfo=UTC)
SEED_X_METRICS = {
    "followers_count": 2400,
    "following_count": 180,
    "tweet_count": 320,
    "listed_count": 14,
    "like_count": 900,
}
SEED_FACEBOOK_METRICS = {"followers_count": 12000, "talking_about_count": 84, "page_video_views": 3200}
FACEBOOK_WARNING = "Facebook Page insight metrics unavailable."


@dataclass(frozen=True)
class SeededWorkspace:
    id: str
    api_key: str


def workspace(factory: sessionmaker[Session], name: str = "demo") -> SeededWorkspace:
    with factory.begin() as session:
        workspace_id = create_workspace(session, name)
        key = create_api_key(session, workspace_id).key
    return SeededWorkspace(id=workspace_id, api_key=key)


def account(
    factory: sessionmaker[Session],
    workspace_id: str,
    account_id: str,
    platform: str,
    *,
    created_at: datetime,
    handle: str | None = None,
    platform_account_id: str | None = None,
    metrics: dict[str, Any] | None = None,
    warnings: list[Any] | None = None,
    sync_status: str = "synced",
    error_message: str | None = None,
    last_updated_at: datetime | None = SEED_TIME,
    stale_after: datetime | None = SEED_TIME + timedelta(hours=6),
    deferred_note: str | None = None,
    with_sync_row: bool = True,
) -> str:
    with factory.begin() as session:
        session.add(
            Account(
                id=account_id,
                workspace_id=workspace_id,
                platform=platform,
                platform_account_id=platform_account_id or f"native-{account_id}",
                handle=handle,
                auth="default",
                credentials=b"not-a-real-token",
                created_at=created_at,
                connected_at=created_at,
            )
        )
        session.flush()
        if with_sync_row:
            session.add(
                AccountSync(
                    account_id=account_id,
                    platform=platform,
                    metrics=metrics or {},
                    warnings=warnings or [],
                    sync_status=sync_status,
                    error_message=error_message,
                    last_updated_at=last_updated_at,
                    stale_after=stale_after,
                    deferred_note=deferred_note,
                    next_sync_at=None,
                )
            )
    return account_id


def seed_example(factory: sessionmaker[Session], workspace_id: str) -> tuple[str, str]:
    """The seed's two example rows: an X `synced` row and a Facebook `partial` row."""
    x = account(
        factory,
        workspace_id,
        "acc_8f2c1d",
        "x",
        created_at=SEED_TIME - timedelta(days=2),
        handle="@dravo",
        platform_account_id="1234567890",
        metrics=SEED_X_METRICS,
    )
    facebook = account(
        factory,
        workspace_id,
        "acc_4b9e07",
        "facebook",
        created_at=SEED_TIME - timedelta(days=1),
        handle="Dravo",
        platform_account_id="1122334455",
        metrics=SEED_FACEBOOK_METRICS,
        warnings=[FACEBOOK_WARNING],
        sync_status="partial",
    )
    return x, facebook


def snapshot(factory: sessionmaker[Session], account_id: str, at: datetime, metrics: dict[str, Any]) -> None:
    with factory.begin() as session:
        session.add(
            MetricSnapshot(account_id=account_id, captured_at=at, sync_status="synced", metrics=metrics)
        )


def make_jwt(claims: dict[str, Any], secret: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def dashboard_jwt(workspace_id: str, expires_in: int = 300) -> str:
    return make_jwt({"workspace_id": workspace_id, "sub": "user_1", "exp": int(time.time()) + expires_in})
