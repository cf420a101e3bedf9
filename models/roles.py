"""Least-privilege PostgreSQL roles: one per kind of process, each granted only what it writes.

`ensure_roles(owner_url, roles)` runs as the migration owner (the role of DATABASE_URL, which owns
the schema) after every migration, so the grants follow the tables: it creates each role named by
a role URL if it is missing (LOGIN, no other attribute), sets its password when the URL carries
one, takes back every table privilege the role holds and grants the ones below. Idempotent: a
second run changes nothing. A URL whose user is the owner's (the fallback when a role URL is unset)
is left alone.

- `api_read`: reads every table; writes only an API key's `last_used_at` (key bookkeeping).
- `api_write`: the management API (connect, disconnect, webhooks): accounts, the few
  `account_sync` columns a (re)connect or a disconnect resets, snapshot purges, webhook endpoints
  and the outbox events those operations record. Never a sync's results (metrics, statuses it
  did not reset, leases it does not clear...).
- `worker`: what a sync, the dispatcher, retention and webhook delivery write. No API keys.

None of them may create anything in the schema (PostgreSQL 15+ no longer grants CREATE on
`public` to everyone; older servers get it revoked here too).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

__all__ = ["GRANTS", "RoleSetupError", "RoleUrls", "ensure_roles"]

# Table privileges per kind of process: table -> privileges ("UPDATE (a, b)" is column-level).
# A table the schema does not have (yet) is skipped; the next run after its migration grants it.
GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "api_read": {
        # Every other table is readable (see _readable_tables); this is the one write.
        "api_keys": ("UPDATE (last_used_at)",),
    },
    "api_write": {
        "workspaces": ("SELECT",),
        "platforms": ("SELECT",),
        "api_keys": ("SELECT",),
        "accounts": ("SELECT", "INSERT", "UPDATE"),
        # A (re)connect inserts or resets the row; a disconnect clears the schedule and the lease.
        "account_sync": (
            "SELECT",
            "INSERT",
            "UPDATE (sync_status, error_message, warnings, deferred_note, consecutive_failures,"
            " next_sync_at, lease_token, lease_until)",
        ),
        "metric_snapshots": ("SELECT", "DELETE"),
        "metric_rejections": ("SELECT",),
        "metric_refusals": ("SELECT",),
        # The encryption key check (ops/startup.py) writes its value on a first start.
        "service_state": ("SELECT", "INSERT", "UPDATE"),
        "webhook_endpoints": ("SELECT", "INSERT", "UPDATE", "DELETE"),
        "webhook_outbox": ("SELECT", "INSERT"),
        "webhook_deliveries": ("SELECT",),
        "webhook_attempts": ("SELECT",),
    },
    "worker": {
        "workspaces": ("SELECT",),
        "platforms": ("SELECT",),
        # A sync rotates credentials; it never changes who or what the account is.
        "accounts": ("SELECT", "UPDATE (credentials, token_expires_at)"),
        "account_sync": ("SELECT", "UPDATE"),
        "metric_snapshots": ("SELECT", "INSERT", "DELETE"),
        "metric_rejections": ("SELECT", "INSERT", "UPDATE", "DELETE"),
        "metric_refusals": ("SELECT", "INSERT", "UPDATE", "DELETE"),
        "service_state": ("SELECT", "INSERT", "UPDATE"),
        "webhook_endpoints": ("SELECT", "UPDATE"),
        "webhook_outbox": ("SELECT", "INSERT", "UPDATE", "DELETE"),
        "webhook_deliveries": ("SELECT", "INSERT", "UPDATE", "DELETE"),
        "webhook_attempts": ("SELECT", "INSERT", "DELETE"),
    },
}
# Alembic's bookkeeping: the owner's alone.
_PRIVATE_TABLES = ("alembic_version",)


class RoleSetupError(Exception):
    """The roles could not be created or granted (e.g. the owner may not create roles)."""


@dataclass(frozen=True)
class RoleUrls:
    """The database URL each kind of process connects with (None: it uses the owner's)."""

    api_read: str | None = None
    api_write: str | None = None
    worker: str | None = None

    def by_kind(self) -> dict[str, str]:
        return {kind: url for kind, url in vars(self).items() if url}


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_roles(owner_url: str, roles: RoleUrls) -> list[str]:
    """Create or update every role the URLs name and set its grants; the role names handled."""
    owner = make_url(owner_url).username
    wanted: dict[str, list[str]] = {}
    passwords: dict[str, str | None] = {}
    for kind, url in roles.by_kind().items():
        parsed = make_url(url)
        if parsed.username is None or parsed.username == owner:
            continue
        wanted.setdefault(parsed.username, []).append(kind)
        passwords[parsed.username] = parsed.password
    if not wanted:
        return []
    try:
        with psycopg.connect(_libpq(owner_url), autocommit=True, connect_timeout=5) as conn:
            for name in wanted:
                _ensure_login_role(conn, name, passwords[name])
            with conn.transaction():
                schema_tables = _tables(conn)
                for name, kinds in wanted.items():
                    _grant(conn, name, kinds, schema_tables)
    except psycopg.Error as exc:
        # The server's first line only: never the URL (it may hold a password).
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RoleSetupError(f"can't set up the database roles: {reason}") from None
    return sorted(wanted)


def _ensure_login_role(conn: psycopg.Connection[tuple[object, ...]], name: str, password: str | None) -> None:
    role = sql.Identifier(name)
    found = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    if found is None:
        # Roles belong to the whole server: a concurrent run may create it first.
        with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(role))
    elif found[0]:
        raise RoleSetupError(f"role {name} is a superuser: give the process a role of its own")
    conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(role))
    if password is not None:
        # Hashed here (SCRAM), so the statement, and any server log of it, never holds the
        # password: https://www.postgresql.org/docs/current/sql-createrole.html (PASSWORD notes).
        hashed = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(hashed.decode())))


def _tables(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    return [str(row[0]) for row in rows]


def _grant(
    conn: psycopg.Connection[tuple[object, ...]], name: str, kinds: Collection[str], tables: list[str]
) -> None:
    role = sql.Identifier(name)
    database = conn.info.dbname
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC, {}").format(role))
    # Start from nothing, so a privilege dropped from GRANTS is taken back on the next run.
    conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role))
    conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(role))
    privileges: dict[str, list[str]] = {}
    for kind in kinds:
        if kind == "api_read":
            for table in tables:
                if table not in _PRIVATE_TABLES:
                    privileges.setdefault(table, []).append("SELECT")
        for table, granted in GRANTS[kind].items():
            privileges.setdefault(table, []).extend(granted)
    for table, words in privileges.items():
        if table not in tables:
            continue
        # The privilege words are constants of this module, never input.
        statement = f"GRANT {', '.join(dict.fromkeys(words))} ON TABLE {{}} TO {{}}"
        conn.execute(sql.SQL(statement).format(sql.Identifier(table), role))
    if set(kinds) - {"api_read"}:
        # Identity and serial columns draw from these on INSERT.
        conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role))
