"""Webhook endpoints get a circuit breaker: failed attempts in a row and until when it is open

An endpoint whose attempts keep failing is skipped by the sweep while its breaker is open, then
probed with one delivery (half-open); docs/webhooks.md. Both columns are cheap to add: a constant
default (no table rewrite) and a nullable column.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_endpoints",
        sa.Column("attempts_failed_in_row", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("webhook_endpoints", sa.Column("breaker_open_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("webhook_endpoints", "breaker_open_until")
    op.drop_column("webhook_endpoints", "attempts_failed_in_row")
