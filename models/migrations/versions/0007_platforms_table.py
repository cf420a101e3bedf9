"""A `platforms` table behind accounts.platform and account_sync.platform, instead of check constraints

The check constraints listed the platforms, so each new one needed a migration. A foreign key to
`platforms` refuses unknown platforms as well, and `models.migrate.upgrade` writes the registry's
names into it after every migration. This migration fills it with the platforms of 0001 and any
already stored. The keys are added NOT VALID, then validated: validation takes only a SHARE UPDATE
EXCLUSIVE lock, so writes to the tables go on meanwhile.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = (
    ("accounts", "fk_accounts_platform_platforms"),
    ("account_sync", "fk_account_sync_platform_platforms"),
)


def upgrade() -> None:
    op.create_table(
        "platforms",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_platforms")),
    )
    op.execute(
        "INSERT INTO platforms (name)"
        " SELECT unnest(ARRAY['instagram', 'facebook', 'x', 'linkedin', 'tiktok'])"
        " UNION SELECT platform FROM accounts UNION SELECT platform FROM account_sync"
    )
    for table, key in _KEYS:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {key} FOREIGN KEY (platform) REFERENCES platforms (name) NOT VALID"
        )
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {key}")
    op.drop_constraint(op.f("ck_accounts_platform"), "accounts", type_="check")
    op.drop_constraint(op.f("ck_account_sync_platform"), "account_sync", type_="check")


def downgrade() -> None:
    # Back to 0006's lists: fails if an account of another platform is stored (delete it first).
    for table in ("accounts", "account_sync"):
        op.create_check_constraint(
            op.f(f"ck_{table}_platform"),
            table,
            "platform IN ('instagram', 'facebook', 'x', 'linkedin', 'tiktok')",
        )
    for table, key in _KEYS:
        op.drop_constraint(key, table, type_="foreignkey")
    op.drop_table("platforms")
