"""API key scopes (read | manage) and disconnected accounts

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01

Both columns are added without a table rewrite (a constant default and a NULL are metadata only
in PostgreSQL 11+). The scope check is added NOT VALID and validated afterwards, so the scan of
existing keys holds no lock that blocks authentication.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("scope", sa.String(length=16), server_default=sa.text("'read'"), nullable=False),
    )
    op.execute(
        "ALTER TABLE api_keys ADD CONSTRAINT ck_api_keys_scope CHECK (scope IN ('read', 'manage')) NOT VALID"
    )
    op.execute("ALTER TABLE api_keys VALIDATE CONSTRAINT ck_api_keys_scope")
    op.add_column("accounts", sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("accounts", "disconnected_at")
    op.drop_constraint(op.f("ck_api_keys_scope"), "api_keys", type_="check")
    op.drop_column("api_keys", "scope")
