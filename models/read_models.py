"""Typed read models of the query module, and their JSON form as the API returns it.

`AccountRow.to_json()` is the one serialiser of a metrics row: the API and `dravo-sync sync`
both print rows through it, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Platform = Literal["instagram", "facebook", "x", "linkedin", "tiktok"]
SyncStatus = Literal["pending", "synced", "partial", "failed", "requires_reconnect"]
PrincipalKind = Literal["api_key", "jwt"]

# The seed's page size bounds.
MAX_LIMIT = 100


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a `Z`, to the second (the seed's format)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime in a read model")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# JSONB keeps no key order, so rows list metrics in the order the published docs use (CONTRACT.md
# §3), then any other key alphabetically: the same row always prints the same way.
METRIC_ORDER: dict[str, tuple[str, ...]] = {
    "instagram": (
        "follower_count", "reach", "views", "accounts_engaged", "total_interactions", "likes",
        "comments", "shares", "saves", "replies", "profile_views", "website_clicks", "profile_links_taps",
    ),
    "facebook": (
        "followers_count", "talking_about_count", "were_here_count", "checkins", "page_post_engagements",
        "page_consumptions", "page_actions_post_reactions_total", "page_video_views", "page_views_total",
        "page_total_actions",
    ),
    "x": (
        "followers_count", "following_count", "tweet_count", "listed_count", "like_count", "media_count",
        "verified_followers_count",
    ),
    "linkedin": (),
    "tiktok": ("follower_count", "following_count", "likes_count", "video_count"),
}


def integer_metrics(raw: Mapping[str, Any] | None, platform: str | None = None) -> dict[str, int]:
    """Only integer values (bools, floats, strings and nulls are dropped, never coerced), in
    METRIC_ORDER for the platform."""
    if not isinstance(raw, Mapping):
        return {}
    values = {
        str(key): value for key, value in raw.items() if isinstance(value, int) and not isinstance(value, bool)
    }
    order = METRIC_ORDER.get(platform or "", ())
    rank = {key: index for index, key in enumerate(order)}
    return dict(sorted(values.items(), key=lambda item: (rank.get(item[0], len(order)), item[0])))


@dataclass(frozen=True)
class AccountFilter:
    """The seed's filters. `None` means "any"."""

    account_id: str | None = None
    platform: Platform | None = None
    limit: int = MAX_LIMIT

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}")


@dataclass(frozen=True)
class AccountRow:
    """One connected account's cached metrics, with the row semantics of CONTRACT.md §2 applied."""

    account_id: str
    platform: Platform
    handle: str | None
    platform_account_id: str | None
    metrics: Mapping[str, int]
    warnings: tuple[str, ...]
    sync_status: SyncStatus
    error_message: str | None
    last_updated_at: datetime | None
    stale_after: datetime | None
    workspace_id: str = field(compare=False, repr=False, default="")

    def with_warning(self, warning: str) -> AccountRow:
        if warning in self.warnings:
            return self
        return AccountRow(
            account_id=self.account_id,
            platform=self.platform,
            handle=self.handle,
            platform_account_id=self.platform_account_id,
            metrics=self.metrics,
            warnings=(*self.warnings, warning),
            sync_status=self.sync_status,
            error_message=self.error_message,
            last_updated_at=self.last_updated_at,
            stale_after=self.stale_after,
            workspace_id=self.workspace_id,
        )

    def to_json(self) -> dict[str, Any]:
        """The row exactly as `GET /v1/analytics/accounts` returns it: every seed field, in order."""
        return {
            "account_id": self.account_id,
            "platform": self.platform,
            "handle": self.handle,
            "platform_account_id": self.platform_account_id,
            "metrics": dict(self.metrics),
            "warnings": list(self.warnings),
            "sync_status": self.sync_status,
            "error_message": self.error_message,
            "last_updated_at": format_time(self.last_updated_at),
            "stale_after": format_time(self.stale_after),
        }


@dataclass(frozen=True)
class SnapshotRow:
    """One successful read of an account's metrics (history)."""

    captured_at: datetime
    sync_status: SyncStatus
    metrics: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "captured_at": format_time(self.captured_at),
            "sync_status": self.sync_status,
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True)
class ApiKeyRecord:
    """What authentication needs to know about a stored key (never the key itself)."""

    id: int
    workspace_id: str
    key_hash: bytes
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: always exactly one workspace."""

    workspace_id: str
    kind: PrincipalKind
    api_key_id: int | None = None  # set for API keys, to record their use
    subject: str | None = None  # the JWT's `sub`, for logs
