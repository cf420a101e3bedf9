"""Benchmark 4: paging GET /v1/analytics/accounts through 100,000 accounts with the cursor.

The same page size at the start, the middle and the end of one workspace's 100,000 accounts: a
cursor is a keyset seek on `ix_accounts_workspace_created`, so the last page should cost what the
first does. For contrast, the statement OFFSET would need for the last page (what a page number
would cost) is timed by pgbench beside the cursor's.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.orm import Session

from bench.api_bench import _loadgen, _pgbench
from bench.database import bench_database, libpq, seed_accounts
from bench.report import median, save
from models.admin import create_api_key
from models.cursor import encode_cursor
from models.db import make_engine, make_session_factory
from ops.testing.processes import cli_args, free_port, start_listening

ACCOUNTS = 100_000
WORKSPACE = "ws_bench_paging"
LIMIT = 100
POSITIONS = {"first page": 0, "middle (after 50,000)": 50_000, "last page (after 99,900)": ACCOUNTS - LIMIT}
CONCURRENCY = 4
DURATION = 4.0
RUNS = 3


def _cursor_after(url: str, position: int) -> str | None:
    """The cursor a client holds after reading `position` rows (None: the first page)."""
    if position == 0:
        return None
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT created_at, id FROM accounts WHERE workspace_id = %s ORDER BY created_at, id "
            "OFFSET %s LIMIT 1",
            (WORKSPACE, position - 1),
        ).fetchone()
    assert row is not None
    return encode_cursor(row[0], row[1])


def _page_sql(url: str, cursor: str | None, offset: int | None = None) -> str:
    """The API's statement for the page after `cursor`, parameters inlined; with `offset`, the
    first-page statement paged by OFFSET instead, for contrast."""
    from models.cursor import decode_cursor
    from models.queries import account_page_statement
    from models.read_models import AccountFilter
    from models.statements import psycopg_text

    after = decode_cursor(cursor) if cursor else None
    statement = account_page_statement(WORKSPACE, AccountFilter(limit=LIMIT, after=after))
    assert statement is not None
    sql, params = statement
    if offset is not None:
        sql = sql.replace("LIMIT :fetch)", f"LIMIT :fetch OFFSET {offset})")
    with psycopg.connect(libpq(url)) as conn:
        return psycopg.ClientCursor(conn).mogrify(psycopg_text(sql), params)


def _buffers(url: str, sql: str) -> int:
    """Shared buffers the statement touches (EXPLAIN ANALYZE, BUFFERS): the work, not the time."""
    with psycopg.connect(libpq(url)) as conn:
        plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}").fetchone()
    assert plan is not None
    top = plan[0][0]["Plan"]
    return int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))


def run() -> dict[str, Any]:
    with bench_database() as url:
        engine = make_engine(url)
        seed_accounts(url, workspace_id=WORKSPACE, start=1, count=ACCOUNTS, credentials=b"x")
        with make_session_factory(engine).begin() as session:
            assert isinstance(session, Session)
            key = create_api_key(session, WORKSPACE).key
        engine.dispose()
        cursors = {name: _cursor_after(url, position) for name, position in POSITIONS.items()}

        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "DRAVO_ENV": "development", "DRAVO_LOG_LEVEL": "WARNING"}
        log = Path(tempfile.mkdtemp(prefix="dravo-bench-paging-")) / "api.log"
        api, base = start_listening("api", cli_args("api", "--port", str(port)), env, log, port, "/healthz")
        urls = {
            name: f"{base}/v1/analytics/accounts?limit={LIMIT}" + (f"&cursor={cursor}" if cursor else "")
            for name, cursor in cursors.items()
        }
        http: dict[str, list[dict[str, float]]] = {name: [] for name in POSITIONS}
        sql_tps: dict[str, list[float]] = {name: [] for name in POSITIONS}
        offset_tps: list[float] = []
        try:
            headers = {"Authorization": f"Bearer {key}"}
            last = httpx.get(urls["last page (after 99,900)"], headers=headers).json()
            assert last["total"] == LIMIT
            assert last["next_cursor"] is None
            statements = {name: _page_sql(url, cursor) for name, cursor in cursors.items()}
            offset_sql = _page_sql(url, None, offset=ACCOUNTS - LIMIT)
            buffers = {name: _buffers(url, sql) for name, sql in statements.items()}
            offset_buffers = _buffers(url, offset_sql)
            _loadgen(urls["first page"], key, "--concurrency", "2", "--duration", "2")  # warm-up
            for _ in range(RUNS):
                for name, target in urls.items():
                    http[name].append(
                        _loadgen(target, key, "--concurrency", str(CONCURRENCY), "--duration", str(DURATION))
                    )
                    sql_tps[name].append(_pgbench(url, statements[name]))
                offset_tps.append(_pgbench(url, offset_sql))
                time.sleep(1)
        finally:
            api.stop(30)

    rows = []
    first_p50 = median([r["p50_ms"] for r in http["first page"]])
    first_tps = median(sql_tps["first page"])
    for name in POSITIONS:
        p50 = median([r["p50_ms"] for r in http[name]])
        rps = median([r["achieved_rps"] for r in http[name]])
        tps = median(sql_tps[name])
        rows.append(
            f"| {name} | {p50:.1f} ms ({p50 / first_p50:.2f}x) | {rps:.0f} | {tps:.0f} ({tps / first_tps:.2f}x) "
            f"| {buffers[name]} |"
        )
    last_tps = median(sql_tps["last page (after 99,900)"])
    offset_rate = median(offset_tps)
    errors = sum(int(r["errors"]) for runs in http.values() for r in runs)
    data = {
        "http": http,
        "sql_tps": sql_tps,
        "offset_tps": offset_tps,
        "buffers": buffers,
        "offset_buffers": offset_buffers,
        "last_over_first_sql": last_tps / first_tps,
        "offset_over_cursor_sql": offset_rate / last_tps,
        "errors": errors,
    }
    table = "\n".join(rows)
    markdown = f"""## 4. API paging: the first, middle and last page of {ACCOUNTS:,} accounts

`GET /v1/analytics/accounts?limit={LIMIT}&cursor=...` in one workspace of {ACCOUNTS:,} accounts,
at three positions. The API runs as `dravo-sync api`; the load is a closed loop of {CONCURRENCY}
connections from a second process (`bench.loadgen`, {DURATION:.0f} s per position per run); pgbench
runs the API's own statement for that page, prepared, with 16 clients.

| page | HTTP p50 (vs first page) | HTTP requests/s | SQL statement, queries/s (vs first page) | buffers touched |
| --- | --- | --- | --- | --- |
{table}
| last page by OFFSET {ACCOUNTS - LIMIT:,} instead (for contrast) | | | {offset_rate:.0f} ({offset_rate / first_tps:.2f}x) | {offset_buffers} |

The last page costs what the first does (SQL: {last_tps / first_tps:.2f}x the first page's rate):
the cursor is a seek on `ix_accounts_workspace_created`, `(created_at, id) > (cursor)` as an index
condition, so each page reads its {LIMIT} rows and one more whatever its position. Reaching the
same page by OFFSET would read and discard {ACCOUNTS - LIMIT:,} rows first:
{offset_rate / last_tps:.2f}x the cursor's rate. Non-200 answers: {errors}."""
    save("paging", "python -m bench paging", markdown, data)
    return data
