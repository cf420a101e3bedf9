"""The webhook tables: endpoints, the transactional outbox, deliveries and their attempts.

    webhook_outbox       one row per event, written in the same statement/transaction as the
                         row change that causes it (models.sync_state, models.outbox)
    webhook_deliveries   one row per (endpoint, event), created by the fan-out of the sweep;
                         pending -> delivered | failed
    webhook_attempts     one row per HTTP attempt: what `webhook deliveries` shows

Deleting an endpoint deletes its deliveries and attempts; pruning an event deletes its deliveries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

EVENT_TYPES = ("account.status_changed", "account.token_expiring", "account.disconnected")
DELIVERY_STATUS_VALUES = ("pending", "delivered", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class WebhookEndpoint(Base):
    """A workspace's receiver URL. The signing secret is one Fernet token (models.crypto)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_workspace_id", "workspace_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    # Empty: every event type.
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Deliveries that ended `failed` since the last success; disabled at the configured limit.
    failed_in_row: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_success_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The circuit breaker (docs/webhooks.md): attempts that failed in a row (any non-2xx or no
    # reply), and until when the breaker is open (the sweep skips the endpoint; then one probe).
    attempts_failed_in_row: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    breaker_open_until: Mapped[datetime | None]


class OutboxEvent(Base):
    """One event. `webhook_id` is the Standard Webhooks message id, the same on every retry."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        CheckConstraint(_in("event_type", EVENT_TYPES), name="event_type"),
        # The fan-out reads the not yet fanned out events in id order.
        Index("ix_webhook_outbox_unfanned", "id", postgresql_where=text("fanned_out_at IS NULL")),
        Index("ix_webhook_outbox_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(40), unique=True)
    workspace_id: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)  # a JSON object: values of any JSON type
    created_at: Mapped[datetime]
    fanned_out_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one endpoint. Only the oldest pending delivery of an account is sent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        CheckConstraint(_in("status", DELIVERY_STATUS_VALUES), name="status"),
        # The claim: per endpoint, the pending heads of each account in event order.
        Index(
            "ix_webhook_deliveries_pending",
            "endpoint_id",
            "account_id",
            "event_id",
            postgresql_where=text("status = 'pending'"),
        ),
        # ... and the claim's scan in event order, and its count of requests in flight.
        Index(
            "ix_webhook_deliveries_due",
            "endpoint_id",
            "event_id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_deliveries_leased",
            "endpoint_id",
            postgresql_where=text("lease_until IS NOT NULL"),
        ),
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_outbox.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    # Set while one worker sends it; a killed worker's delivery is due again after this.
    lease_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, for the operator (`webhook deliveries`)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_endpoint_attempted", "endpoint_id", "attempted_at"),
        Index("ix_webhook_attempts_delivery_id", "delivery_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
