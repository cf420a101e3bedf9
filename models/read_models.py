"""Typed read models of the query module, and their JSON form as the API returns it.

A row's JSON is built by PostgreSQL (`models/sql/account_page.sql`, the implementation of
docs/contract.md §2 that serves rows; `models.row_rules` states it in Python); `AccountRow` is a typed view of that JSON, and `to_json()` gives it back unchanged,
so the API and `dravo-sync sync` print the same row the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ops.foundation import platforms as platform_registry
from ops.foundation.platforms import Platform as Platform

SyncStatus = Literal["pending", "synced", "partial", "failed", "requires_reconnect"]
PrincipalKind = Literal["api_key", "jwt"]
# What a principal may do: `read` analytics, or also `manage` accounts (API keys only).
Scope = Literal["read", "manage"]

# The seed's page size bounds.
MAX_LIMIT = 100
# ISO 8601 UTC with a `Z`, to the second.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a `Z`, to the second (the seed's format)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime in a read model")
    # isoformat, not strftime: glibc's %Y does not pad years before 1000 to four digits.
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_time(value: str | None) -> datetime | None:
    """The inverse of `format_time`."""
    if value is None:
        return None
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


# JSONB keeps no key order, so rows list metrics in the order the published docs use (docs/contract.md
# §3), then any other key by code point: the same row always prints the same way. The query module
# renders this table into its SQL.
METRIC_ORDER: dict[str, tuple[str, ...]] = platform_registry.metric_keys()


@dataclass(frozen=True)
class AccountFilter:
    """The seed's filters. `None` means "any"."""

    account_id: str | None = None
    platform: Platform | None = None
    limit: int = MAX_LIMIT
    # The cursor's position (created_at, id): only rows after it (models.cursor).
    after: tuple[datetime, str] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}")


@dataclass(frozen=True)
class AccountRow:
    """One connected account's cached metrics, with the row semantics of docs/contract.md §2 applied."""

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

    @classmethod
    def from_json(cls, data: Mapping[str, Any], workspace_id: str = "") -> AccountRow:
        """A row from its JSON form (as `models.queries` reads it); `to_json()` gives it back."""
        return cls(
            account_id=data["account_id"],
            platform=data["platform"],
            handle=data["handle"],
            platform_account_id=data["platform_account_id"],
            metrics=dict(data["metrics"]),
            warnings=tuple(data["warnings"]),
            sync_status=data["sync_status"],
            error_message=data["error_message"],
            last_updated_at=parse_time(data["last_updated_at"]),
            stale_after=parse_time(data["stale_after"]),
            workspace_id=workspace_id,
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SnapshotRow:
        captured_at = parse_time(data["captured_at"])
        assert captured_at is not None
        return cls(captured_at=captured_at, sync_status=data["sync_status"], metrics=dict(data["metrics"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "captured_at": format_time(self.captured_at),
            "sync_status": self.sync_status,
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True)
class AccountPageText:
    """A page of `GET /v1/analytics/accounts` as PostgreSQL built it: the 200 body (JSON text,
    `next_cursor` included) and that cursor again, for the `Link` header."""

    body: bytes | str
    next_cursor: str | None


@dataclass(frozen=True)
class RefreshRowState:
    """What an on-demand refresh plans from (worker.refresh): an account's sync row."""

    platform: str
    last_attempt_at: datetime | None
    sync_status: str
    deferred_note: str | None
    next_sync_at: datetime | None


@dataclass(frozen=True)
class SnapshotPage:
    """One page of an account's history; `next_after` is the (captured_at, id) the next page
    starts after, None on the last page."""

    items: list[SnapshotRow]
    next_after: tuple[datetime, int] | None


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
    scope: Scope = "read"  # dashboard JWTs are always read-only

    @property
    def can_manage(self) -> bool:
        return self.kind == "api_key" and self.scope == "manage"
