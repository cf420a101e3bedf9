"""The schema. Alembic migrations under `models/migrations` are generated from (and tested against)
these classes; they are the only way the schema reaches a database."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from ops.foundation.platforms import PLATFORM_NAMES

# The registry's names, in its order: the rows of `platforms` (models.migrate.register_platforms).
PLATFORM_VALUES = PLATFORM_NAMES
SYNC_STATUS_VALUES = ("pending", "synced", "partial", "failed", "requires_reconnect")
AUTH_VALUES = ("instagram", "facebook", "default")
# `read` keys see analytics; `manage` keys may also connect and disconnect accounts.
API_KEY_SCOPES = ("read", "manage")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PlatformName(Base):
    """The platforms the database accepts: a foreign key from every `platform` column the registry
    governs, so an unknown platform is refused. Its rows are the registry's, written after every
    migration (`models.migrate.upgrade`), so a new platform needs no migration."""

    __tablename__ = "platforms"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A workspace's API key. Only a SHA-256 of the key is stored, with a short visible prefix."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(_in("scope", API_KEY_SCOPES), name="scope"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    scope: Mapped[str] = mapped_column(String(16), server_default=text("'read'"))


class Account(Base):
    """A connected social account. Credentials are one Fernet token (see models.crypto)."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "platform", "platform_account_id"),
        CheckConstraint(_in("auth", AUTH_VALUES), name="auth"),
        # The API lists a workspace's accounts in creation order.
        Index("ix_accounts_workspace_created", "workspace_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16), ForeignKey("platforms.name"))
    platform_account_id: Mapped[str] = mapped_column(Text)
    handle: Mapped[str | None] = mapped_column(Text)
    auth: Mapped[str] = mapped_column(String(16))
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    # Not secret, kept in clear so status reports and warnings need no decryption.
    token_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    reconnected_at: Mapped[datetime | None]
    # Incremented by every (re)connect. A sync records the version it claimed and writes only while
    # it is still current, so a reconnect always wins against a sync that is running (docs/worker.md).
    credential_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # Set by a disconnect (credentials erased, no syncs, hidden from the API); a reconnect clears it.
    disconnected_at: Mapped[datetime | None]

    sync: Mapped[AccountSync] = relationship(back_populates="account", uselist=False)


class AccountSync(Base):
    """The metrics cache row of one account, and its scheduling state.

    next_sync_at NULL means "not scheduled" (requires_reconnect). A claimed row carries a lease:
    lease_token identifies the one task allowed to write it, until lease_until.
    """

    __tablename__ = "account_sync"
    __table_args__ = (
        CheckConstraint(_in("sync_status", SYNC_STATUS_VALUES), name="sync_status"),
        # The dispatcher asks, per platform: which scheduled accounts are due, most overdue first.
        # A range scan of this index answers it without touching `accounts`.
        Index(
            "ix_account_sync_due",
            "platform",
            "next_sync_at",
            "account_id",
            postgresql_where=text("next_sync_at IS NOT NULL"),
        ),
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    # A copy of accounts.platform (which never changes), so dispatching needs no join.
    platform: Mapped[str] = mapped_column(String(16), ForeignKey("platforms.name"))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    warnings: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    sync_status: Mapped[str] = mapped_column(String(24), server_default=text("'pending'"))
    error_message: Mapped[str | None] = mapped_column(Text)
    last_updated_at: Mapped[datetime | None]
    stale_after: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    next_sync_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Set while a sync is deferred by a rate limit: the warning to show while the row is stale.
    deferred_note: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The token expiry an `account.token_expiring` webhook event was written for (once per token).
    expiry_notified_for: Mapped[datetime | None]

    account: Mapped[Account] = relationship(back_populates="sync")


class MetricSnapshot(Base):
    """One row per successful read, for history charts."""

    __tablename__ = "metric_snapshots"
    __table_args__ = (
        Index("ix_metric_snapshots_account_captured", "account_id", "captured_at"),
        # The retention task scans old snapshots by time across accounts (worker/retention.py).
        Index("ix_metric_snapshots_captured", "captured_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    captured_at: Mapped[datetime]
    sync_status: Mapped[str] = mapped_column(String(24))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)


class MetricRejection(Base):
    """A metric a platform refused; later syncs skip it (the self-healing catalog)."""

    __tablename__ = "metric_rejections"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    metric: Mapped[str] = mapped_column(Text, primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceState(Base):
    """Small named values the service keeps about itself: the encryption key check value
    (models/key_check.py) and the history retention watermark (models/retention.py)."""

    __tablename__ = "service_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MetricRefusal(Base):
    """A metric a platform refused one account (and login flavour): that account's later syncs
    skip it. `retirement`: the refusal used the platform's own "no longer exists" wording; enough
    workspaces confirming it make the metric retired platform-wide (models.catalog)."""

    __tablename__ = "metric_refusals"
    __table_args__ = (
        Index(
            "ix_metric_refusals_retirement",
            "platform",
            "metric",
            postgresql_where=text("retirement"),
        ),
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    auth: Mapped[str] = mapped_column(String(16), primary_key=True)
    metric: Mapped[str] = mapped_column(Text, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    retirement: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


# The webhook tables live in their own module; importing it registers them on Base.metadata.
import models.webhooks  # noqa: E402, F401
