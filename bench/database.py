"""A throw-away database per benchmark run, and bulk seeding done inside PostgreSQL.

Seeding a million accounts row by row from Python would take longer than the benchmark itself;
`generate_series` builds them server-side in seconds.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

from models import migrate

ADMIN_URL = os.environ.get(
    "DRAVO_BENCH_ADMIN_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def bench_database() -> Iterator[str]:
    name = f"dravo_bench_{secrets.token_hex(4)}"
    with psycopg.connect(libpq(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(libpq(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PLATFORM_SQL = "(ARRAY['instagram','facebook','x','linkedin','tiktok'])[1 + g %% 5]"


def seed_accounts(
    url: str,
    *,
    workspace_id: str,
    start: int,
    count: int,
    credentials: bytes,
    status: str = "synced",
    due_spread_seconds: int = 0,
    metrics_json: str = '{"followers_count": 2400, "following_count": 180, "tweet_count": 320}',
) -> None:
    """Insert accounts start..start+count-1 with their cache rows.

    due_spread_seconds > 0 makes every account due, spread over that many seconds in the past
    (so the dispatcher has an order to respect); 0 schedules them all in the future.
    """
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES (%s, %s, now()) ON CONFLICT DO NOTHING",
            (workspace_id, workspace_id),
        )
        conn.execute(
            f"""
            INSERT INTO accounts (id, workspace_id, platform, platform_account_id, handle, auth,
                                  credentials, created_at, connected_at)
            SELECT 'acc_' || lpad(to_hex(g), 16, '0'), %(ws)s, {PLATFORM_SQL},
                   CASE WHEN g %% 5 = 3 THEN 'urn:li:organization:' || g ELSE g::text END,
                   'bench' || g, CASE WHEN g %% 5 = 0 THEN 'instagram' ELSE 'default' END,
                   %(cred)s, now() - make_interval(secs => %(n)s - (g - %(start)s)), now()
            FROM generate_series(%(start)s, %(start)s + %(n)s - 1) AS g
            """,
            {"ws": workspace_id, "cred": credentials, "start": start, "n": count},
        )
        conn.execute(
            f"""
            INSERT INTO account_sync (account_id, platform, metrics, warnings, sync_status, last_updated_at,
                                      stale_after, next_sync_at)
            SELECT 'acc_' || lpad(to_hex(g), 16, '0'), {PLATFORM_SQL}, %(metrics)s::jsonb, '[]'::jsonb, %(status)s,
                   now() - interval '1 hour', now() + interval '5 hours',
                   CASE WHEN %(spread)s > 0
                        THEN now() - make_interval(secs => random() * %(spread)s)
                        ELSE now() + interval '5 hours' END
            FROM generate_series(%(start)s, %(start)s + %(n)s - 1) AS g
            """,
            {
                "metrics": metrics_json,
                "status": status,
                "spread": due_spread_seconds,
                "start": start,
                "n": count,
            },
        )
        conn.execute("ANALYZE accounts")
        conn.execute("ANALYZE account_sync")
