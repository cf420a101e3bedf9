"""metric_refusals: metric memory per account and login flavour (docs/platforms.md)

A new table, so no lock on a busy one and nothing to backfill: the old platform-wide
`metric_rejections` rows are not carried over (they are what made one account's refusal hide a
metric from every workspace); each account re-learns its own refusals on its next sync.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_refusals",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("auth", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("retirement", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_metric_refusals_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "auth", "metric", name=op.f("pk_metric_refusals")),
    )
    # A new, empty table: a plain CREATE INDEX locks nothing anyone waits on.
    op.create_index(
        "ix_metric_refusals_retirement",
        "metric_refusals",
        ["platform", "metric"],
        unique=False,
        postgresql_where=sa.text("retirement"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_metric_refusals_retirement", table_name="metric_refusals", postgresql_where=sa.text("retirement")
    )
    op.drop_table("metric_refusals")
