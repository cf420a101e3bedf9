"""Alembic is the only source of the schema: it must build, tear down and match the models."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from models import migrate
from models.base import Base
from ops.foundation.platforms import PLATFORM_NAMES
from tests.conftest import ADMIN_URL, _libpq


@pytest.fixture
def empty_database() -> Iterator[str]:
    name = f"dravo_mig_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert _tables(empty_database) == set(Base.metadata.tables)
    migrate.downgrade(empty_database, "base")
    assert _tables(empty_database) == set()
    migrate.upgrade(empty_database)
    assert _tables(empty_database) == set(Base.metadata.tables)


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_one_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql+psycopg://unused/x"))
    assert len(script.get_heads()) == 1


def test_the_database_refuses_an_unregistered_platform(database_url: str) -> None:
    # The foreign key to `platforms` (0007), whose rows are the registry's (models.migrate).
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            names = set(conn.scalars(text("SELECT name FROM platforms")))
            assert names >= set(PLATFORM_NAMES)
            conn.execute(text("INSERT INTO workspaces (id, name, created_at) VALUES ('ws_fk', 'fk', now())"))
            with pytest.raises(IntegrityError, match="fk_accounts_platform_platforms"):
                conn.execute(
                    text(
                        "INSERT INTO accounts (id, workspace_id, platform, platform_account_id, auth,"
                        " credentials, created_at, connected_at)"
                        " VALUES ('acc_fk', 'ws_fk', 'myspace', '1', 'default', '', now(), now())"
                    )
                )
            conn.rollback()
    finally:
        engine.dispose()
