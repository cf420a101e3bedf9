"""account_sync.platform and a per-platform due index, so a dispatcher claim is one index range

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("account_sync", sa.Column("platform", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE account_sync AS s SET platform = a.platform FROM accounts AS a WHERE a.id = s.account_id"
    )
    op.alter_column("account_sync", "platform", nullable=False)
    op.create_check_constraint(
        op.f("ck_account_sync_platform"),
        "account_sync",
        "platform IN ('instagram', 'facebook', 'x', 'linkedin', 'tiktok')",
    )
    op.drop_index(
        "ix_account_sync_due", table_name="account_sync", postgresql_where=sa.text("next_sync_at IS NOT NULL")
    )
    op.create_index(
        "ix_account_sync_due",
        "account_sync",
        ["platform", "next_sync_at", "account_id"],
        unique=False,
        postgresql_where=sa.text("next_sync_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_account_sync_due", table_name="account_sync", postgresql_where=sa.text("next_sync_at IS NOT NULL")
    )
    op.create_index(
        "ix_account_sync_due",
        "account_sync",
        ["next_sync_at"],
        unique=False,
        postgresql_where=sa.text("next_sync_at IS NOT NULL"),
    )
    op.drop_constraint(op.f("ck_account_sync_platform"), "account_sync", type_="check")
    op.drop_column("account_sync", "platform")
