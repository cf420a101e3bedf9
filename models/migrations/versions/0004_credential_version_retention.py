"""credential versions, service_state (key check value, retention watermark), snapshot time index

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

No table lock is held through a long operation (docs/security.md, "Migrations and table locks"):
- the new column has a constant default, which PostgreSQL 11+ stores in the catalog: no rewrite and
  no backfill, and the ALTER holds its lock only for the catalog change;
- the index on metric_snapshots (the largest table) is built CONCURRENTLY, outside the migration's
  transaction, so syncs keep appending snapshots while it is built;
- `lock_timeout` bounds how long the ALTER waits behind a long transaction (while it waits, every
  other statement on the table would queue behind it): it fails instead, and can be re-run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column(
        "accounts",
        sa.Column("credential_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.create_table(
        "service_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_state")),
    )
    with op.get_context().autocommit_block():
        # A failed concurrent build leaves an INVALID index behind: drop it so a re-run builds it.
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_metric_snapshots_captured")
        op.create_index(
            "ix_metric_snapshots_captured",
            "metric_snapshots",
            ["captured_at"],
            unique=False,
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_metric_snapshots_captured", table_name="metric_snapshots", postgresql_concurrently=True
        )
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_table("service_state")
    op.drop_column("accounts", "credential_version")
