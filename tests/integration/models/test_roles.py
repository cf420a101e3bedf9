"""Least-privilege roles (models/roles.py) against the real PostgreSQL: each process's role can do
what its process does and nothing else, and `ensure_roles` converges on every run."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from sqlalchemy.engine import make_url

from models.roles import RoleSetupError, RoleUrls, ensure_roles

DENIED = psycopg.errors.InsufficientPrivilege


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Roles:
    owner: str
    urls: RoleUrls
    names: dict[str, str]

    def run(self, kind: str, statement: str) -> None:
        """Run one statement as the role of `kind` (rolled back: only the privilege check matters)."""
        url = getattr(self.urls, kind)
        with psycopg.connect(_libpq(url)) as conn:
            try:
                conn.execute(statement)
            finally:
                conn.rollback()


def _drop(owner_url: str, names: list[str]) -> None:
    with psycopg.connect(_libpq(owner_url), autocommit=True) as conn:
        for name in names:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(f'DROP OWNED BY "{name}"')
                conn.execute(f'DROP ROLE "{name}"')


@pytest.fixture
def roles(database_url: str) -> Iterator[Roles]:
    # Roles are shared by the whole server: names of our own, dropped afterwards.
    tag = secrets.token_hex(4)
    names = {kind: f"dravo_test_{tag}_{kind}" for kind in ("api_read", "api_write", "worker")}
    base = make_url(database_url)
    urls = {
        kind: base.set(username=name, password=secrets.token_hex(8)).render_as_string(hide_password=False)
        for kind, name in names.items()
    }
    created = RoleUrls(**urls)
    try:
        assert sorted(ensure_roles(database_url, created)) == sorted(names.values())
        yield Roles(database_url, created, names)
    finally:
        _drop(database_url, list(names.values()))


def test_the_api_read_role_reads_and_records_key_use_only(roles: Roles) -> None:
    roles.run("api_read", "SELECT count(*) FROM accounts JOIN account_sync ON account_id = id")
    roles.run("api_read", "SELECT count(*) FROM metric_snapshots, api_keys, workspaces, platforms")
    roles.run("api_read", "UPDATE api_keys SET last_used_at = now() WHERE false")
    for statement in (
        "INSERT INTO accounts SELECT * FROM accounts WHERE false",
        "UPDATE accounts SET handle = 'x' WHERE false",
        "DELETE FROM accounts WHERE false",
        "UPDATE account_sync SET metrics = '{}' WHERE false",
        "UPDATE api_keys SET revoked_at = NULL WHERE false",  # only last_used_at
        "DELETE FROM metric_snapshots WHERE false",
        "SELECT * FROM alembic_version",
    ):
        with pytest.raises(DENIED):
            roles.run("api_read", statement)


def test_the_manage_role_cannot_touch_sync_results(roles: Roles) -> None:
    # What connect, disconnect and the webhooks API do.
    roles.run("api_write", "INSERT INTO accounts SELECT * FROM accounts WHERE false")
    roles.run("api_write", "INSERT INTO account_sync SELECT * FROM account_sync WHERE false")
    roles.run(
        "api_write",
        "UPDATE account_sync SET sync_status = 'pending', next_sync_at = NULL, lease_token = NULL WHERE false",
    )
    roles.run("api_write", "DELETE FROM metric_snapshots WHERE false")
    roles.run("api_write", "DELETE FROM webhook_endpoints WHERE false")
    for statement in (
        "UPDATE account_sync SET metrics = '{}' WHERE false",
        "UPDATE account_sync SET last_updated_at = now() WHERE false",
        "DELETE FROM account_sync WHERE false",
        "INSERT INTO metric_snapshots SELECT * FROM metric_snapshots WHERE false",
        "UPDATE webhook_deliveries SET status = 'failed' WHERE false",
        "UPDATE api_keys SET revoked_at = now() WHERE false",
        "CREATE TABLE managed_here (id int)",
    ):
        with pytest.raises(DENIED):
            roles.run("api_write", statement)


def test_the_worker_writes_sync_state_but_creates_nothing(roles: Roles) -> None:
    roles.run("worker", "UPDATE account_sync SET metrics = '{}', lease_token = NULL WHERE false")
    roles.run("worker", "UPDATE accounts SET credentials = credentials WHERE false")
    roles.run("worker", "INSERT INTO metric_snapshots SELECT * FROM metric_snapshots WHERE false")
    roles.run("worker", "UPDATE webhook_deliveries SET status = 'failed' WHERE false")
    for statement in (
        "CREATE TABLE worker_made (id int)",
        "UPDATE accounts SET workspace_id = workspace_id WHERE false",
        "DELETE FROM accounts WHERE false",
        "SELECT * FROM api_keys",
        "INSERT INTO workspaces SELECT * FROM workspaces WHERE false",
        "DROP TABLE metric_snapshots",
    ):
        with pytest.raises(DENIED):
            roles.run("worker", statement)


def _privileges(owner_url: str, name: str) -> set[tuple[str, str]]:
    with psycopg.connect(_libpq(owner_url)) as conn:
        rows = conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants WHERE grantee = %s",
            (name,),
        ).fetchall()
    return {(str(table), str(privilege)) for table, privilege in rows}


def test_ensure_roles_converges_and_follows_new_tables(roles: Roles) -> None:
    before = {kind: _privileges(roles.owner, name) for kind, name in roles.names.items()}
    with psycopg.connect(_libpq(roles.owner), autocommit=True) as conn:
        conn.execute(f'GRANT DELETE ON accounts TO "{roles.names["worker"]}"')  # drift
        conn.execute("CREATE TABLE roles_test_later (id int)")  # as a later migration would
    try:
        ensure_roles(roles.owner, roles.urls)
        after = {kind: _privileges(roles.owner, name) for kind, name in roles.names.items()}
        assert after["worker"] == before["worker"]  # the drift is taken back
        assert after["api_read"] == before["api_read"] | {("roles_test_later", "SELECT")}
        roles.run("api_read", "SELECT * FROM roles_test_later")
    finally:
        with psycopg.connect(_libpq(roles.owner), autocommit=True) as conn:
            conn.execute("DROP TABLE roles_test_later")


def test_passwords_are_set_hashed_and_roles_have_no_power(roles: Roles) -> None:
    with psycopg.connect(_libpq(roles.owner)) as conn:
        for name in roles.names.values():
            row = conn.execute(
                "SELECT rolpassword, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin"
                " FROM pg_authid WHERE rolname = %s",
                (name,),
            ).fetchone()
            assert row is not None
            assert str(row[0]).startswith("SCRAM-SHA-256$")
            assert row[1:] == (False, False, False, True)


def test_a_role_url_of_the_owner_is_left_alone(database_url: str) -> None:
    # The fallback: a process without a role URL connects as the owner.
    assert ensure_roles(database_url, RoleUrls(api_read=database_url, worker=None)) == []


def test_a_superuser_role_is_refused_without_the_url_in_the_message(database_url: str) -> None:
    name = f"dravo_test_{secrets.token_hex(4)}_super"
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" SUPERUSER')
    try:
        url = make_url(database_url).set(username=name, password="not-in-messages")
        with pytest.raises(RoleSetupError, match="superuser") as raised:
            ensure_roles(database_url, RoleUrls(worker=url.render_as_string(hide_password=False)))
        assert "not-in-messages" not in str(raised.value)
    finally:
        _drop(database_url, [name])
