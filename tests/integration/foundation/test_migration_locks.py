"""Migrations hold no table lock through a long backfill or index build.

The rule (docs/security.md, "Migrations and table locks"), for every migration after 0002:
indexes on existing tables are built CONCURRENTLY inside an autocommit block, and a lock the
migration must wait for is bounded by `lock_timeout`, so a long transaction makes the migration
fail (to be re-run) instead of queueing every query on the table behind it.
"""

from __future__ import annotations

import ast
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from models import migrate
from tests.conftest import ADMIN_URL, _libpq

VERSIONS = Path(migrate.MIGRATIONS) / "versions"
RULE_SINCE = "0002"  # migrations after this one follow the rule


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name
    ]


def _later_migrations() -> list[Path]:
    return sorted(p for p in VERSIONS.glob("*.py") if p.name.split("_")[0] > RULE_SINCE)


def _upgrade_function(path: Path) -> ast.FunctionDef:
    module = ast.parse(path.read_text())
    [upgrade] = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"]
    return upgrade


@pytest.mark.parametrize("path", _later_migrations(), ids=lambda p: p.name)
def test_indexes_on_existing_tables_are_built_concurrently(path: Path) -> None:
    upgrade = _upgrade_function(path)
    created = {
        call.args[0].value
        for call in _calls(upgrade, "create_table")
        if call.args and isinstance(call.args[0], ast.Constant)
    }
    blocks = [
        node
        for node in ast.walk(upgrade)
        if isinstance(node, ast.With) and _calls(node.items[0].context_expr, "autocommit_block")
    ]
    inside = {id(call) for block in blocks for call in _calls(block, "create_index")}
    for call in _calls(upgrade, "create_index"):
        table = (
            str(call.args[1].value) if len(call.args) > 1 and isinstance(call.args[1], ast.Constant) else None
        )
        if table in created:
            continue  # a table made in the same migration is empty: nothing to wait for
        concurrently = {k.arg: k.value for k in call.keywords}.get("postgresql_concurrently")
        assert isinstance(concurrently, ast.Constant) and concurrently.value is True, (
            f"{path.name}: index on {table} must be built with postgresql_concurrently=True"
        )
        assert id(call) in inside, f"{path.name}: CREATE INDEX CONCURRENTLY must run in autocommit_block()"


@pytest.fixture
def database_at_0002() -> Iterator[str]:
    name = f"dravo_lock_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url, "0002")
    try:
        yield url
    finally:
        with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_long_transaction_makes_the_migration_fail_fast_not_queue(database_at_0002: str) -> None:
    engine = create_engine(database_at_0002)
    try:
        with engine.connect() as reader:
            reader.execute(text("BEGIN"))
            reader.execute(text("SELECT count(*) FROM accounts"))  # holds ACCESS SHARE until it ends
            started = time.monotonic()
            with pytest.raises(OperationalError, match="lock timeout"):
                migrate.upgrade(database_at_0002, "0004")
            assert time.monotonic() - started < 15
            reader.execute(text("ROLLBACK"))
        # Nothing half-done: the migration re-runs cleanly once the transaction is gone.
        migrate.upgrade(database_at_0002, "0004")
        with engine.connect() as conn:
            valid: bool = conn.execute(
                text(
                    "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_metric_snapshots_captured'::regclass"
                )
            ).scalar_one()
        assert valid is True
    finally:
        engine.dispose()
