"""Compose's database bootstrap on the real PostgreSQL: ops/postgres/10-owner.sql (what the postgres
image runs on a new volume) makes a migration owner that is no superuser, and that owner can run
the migrations and create the processes' least-privilege roles (`dravo-sync db upgrade`)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from models import migrate
from models.roles import RoleUrls
from tests.conftest import ADMIN_URL

ROOT = Path(__file__).resolve().parents[3]
OWNER_SQL = ROOT / "ops" / "postgres" / "10-owner.sql"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"dravo_compose_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_owner_is_no_superuser_and_can_migrate_and_grant(fresh_database: str, tmp_path: Path) -> None:
    # psql comes with PostgreSQL's client package wherever the suite's PostgreSQL runs; the image
    # runs the script with it, so the test does too, and fails rather than skips without it.
    assert shutil.which("psql"), (
        "psql (PostgreSQL's client) is needed: the postgres image runs the script with it"
    )
    tag = secrets.token_hex(4)
    owner, password = f"dravo_test_{tag}_owner", secrets.token_hex(12)
    secret = tmp_path / "DATABASE_URL"
    secret.write_text(f"postgresql+psycopg://{owner}:{password}@postgres:5432/dravo\n")
    script = tmp_path / "10-owner.sql"
    script.write_text(OWNER_SQL.read_text().replace("/run/secrets/DATABASE_URL", str(secret)))
    admin = make_url(ADMIN_URL).set(database=fresh_database)
    roles = {kind: f"dravo_test_{tag}_{kind}" for kind in ("api_read", "api_write", "worker")}
    try:
        # As the image's entrypoint runs it: psql, stop at the first error.
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", _libpq(admin.render_as_string(hide_password=False)),
             "-f", str(script)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        owner_url = admin.set(username=owner, password=password)
        with psycopg.connect(_libpq(ADMIN_URL)) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolpassword IS NOT NULL FROM pg_authid"
                " WHERE rolname = %s",
                (owner,),
            ).fetchone()
            assert row == (False, True, False, True)
            db_owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (fresh_database,)
            ).fetchone()
            assert db_owner == (owner,)

        urls = RoleUrls(
            **{
                kind: owner_url.set(username=name).render_as_string(hide_password=False)
                for kind, name in roles.items()
            }
        )
        migrate.upgrade(owner_url.render_as_string(hide_password=False), roles=urls)
        with psycopg.connect(_libpq(urls.worker or "")) as conn:
            conn.execute("SELECT count(*) FROM account_sync")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE worker_made (id int)")
    finally:
        with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh_database}" WITH (FORCE)')
            for name in [*roles.values(), owner]:
                conn.execute(f'DROP ROLE IF EXISTS "{name}"')
