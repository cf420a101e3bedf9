"""Programmatic Alembic: the CLI's `db upgrade` and the tests call these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from models.roles import RoleUrls, ensure_roles
from ops.foundation.platforms import PLATFORM_NAMES

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", roles: RoleUrls | None = None) -> None:
    """Migrate as the owner of DATABASE_URL, then grant each process's role its tables (models/roles.py)."""
    command.upgrade(alembic_config(database_url), revision)
    register_platforms(database_url)
    if roles is not None:
        ensure_roles(database_url, roles)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def register_platforms(database_url: str) -> None:
    """Write the registry's platforms into `platforms` (if the schema has it yet), so the database
    accepts them: a new platform needs no migration. Rows are only added, never removed: a stored
    account of a platform no longer registered keeps its row."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if connection.scalar(text("SELECT to_regclass('platforms')")) is None:
                return
            connection.execute(
                text(
                    "INSERT INTO platforms (name) SELECT unnest(CAST(:names AS text[])) ON CONFLICT DO NOTHING"
                ),
                {"names": list(PLATFORM_NAMES)},
            )
    finally:
        engine.dispose()
