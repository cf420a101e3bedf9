"""Benchmark 3: GET /v1/analytics/accounts?limit=100 over 100,000 accounts in one workspace.

In one run: the API's latency at a fixed 200 requests/s (open loop, second process), its peak
rate under a closed loop, and the rate of the same SQL statement run by pgbench at the same
concurrency — the ceiling the API cannot beat. The API's statement builds the response JSON in
PostgreSQL and runs as a prepared statement (psycopg prepares it after a few runs), so pgbench runs
it prepared too (`-M prepared`); for honesty the section also gives its rate unprepared, and the
rate of the plain row query (no JSON: what the API ran before PostgreSQL built its JSON).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bench.database import bench_database, libpq, seed_accounts
from bench.report import median, save
from models.admin import create_api_key
from models.db import make_engine, make_session_factory
from models.queries import account_page_statement
from models.read_models import AccountFilter
from models.statements import psycopg_text
from models.tables import Account, AccountSync
from ops.testing.processes import cli_args, free_port, start_listening

ACCOUNTS = 100_000
WORKSPACE = "ws_bench_api"
RATE = 200.0
CONCURRENCY = 16
DURATION = 10.0
RUNS = 3


def _list_sql(database_url: str, workspace_id: str, where: AccountFilter) -> str:
    """The statement the API runs for this page, with its parameters inlined."""
    statement = account_page_statement(workspace_id, where)
    assert statement is not None
    sql, params = statement
    with psycopg.connect(libpq(database_url)) as conn:
        return psycopg.ClientCursor(conn).mogrify(psycopg_text(sql), params)


def _plain_rows_sql(workspace_id: str, where: AccountFilter) -> str:
    """The joined rows alone, as the API read them before PostgreSQL built its JSON."""
    query = (
        select(
            Account.id,
            Account.workspace_id,
            Account.platform,
            Account.handle,
            Account.platform_account_id,
            AccountSync.metrics,
            AccountSync.warnings,
            AccountSync.sync_status,
            AccountSync.error_message,
            AccountSync.last_updated_at,
            AccountSync.stale_after,
            AccountSync.deferred_note,
        )
        .select_from(Account)
        .outerjoin(AccountSync, AccountSync.account_id == Account.id)
        .where(Account.workspace_id == workspace_id)
        .order_by(Account.created_at, Account.id)
        .limit(where.limit)
    )
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves dialect __init__ untyped
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _loadgen(url: str, key: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", url, "--header", f"Authorization: Bearer {key}", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def _wrk(url: str, key: str) -> float | None:
    if not shutil.which("wrk"):
        return None
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{int(DURATION)}s", "-H", f"Authorization: Bearer {key}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def _pgbench(database_url: str, sql: str, mode: str = "prepared") -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(sql.replace("\n", " ") + ";\n")
    try:
        out = subprocess.run(
            [
                "pgbench",
                "-n",
                "-M",
                mode,
                "-c",
                str(CONCURRENCY),
                "-j",
                "2",
                "-T",
                str(int(DURATION)),
                "-f",
                script.name,
                libpq(database_url),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"tps = ([\d.]+)", out)
    if not match:
        raise RuntimeError(f"pgbench printed no tps: {out[-300:]}")
    return float(match.group(1))


def run() -> dict[str, Any]:
    with bench_database() as url:
        engine = make_engine(url)
        seed_accounts(url, workspace_id=WORKSPACE, start=1, count=ACCOUNTS, credentials=b"x")
        with make_session_factory(engine).begin() as session:
            assert isinstance(session, Session)
            key = create_api_key(session, WORKSPACE).key
        engine.dispose()

        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "DRAVO_ENV": "development", "DRAVO_LOG_LEVEL": "WARNING"}
        args = cli_args("api", "--host", "127.0.0.1", "--port", str(port))
        log = Path(tempfile.mkdtemp(prefix="dravo-bench-api-")) / "api.log"
        api, base = start_listening("api", args, env, log, port, "/healthz")
        target = f"{base}/v1/analytics/accounts?limit=100"
        try:
            assert httpx.get(target, headers={"Authorization": f"Bearer {key}"}).json()["total"] == 100
            _loadgen(target, key, "--concurrency", "4", "--duration", "2")  # warm-up
            page_sql = _list_sql(url, WORKSPACE, AccountFilter(limit=100))
            plain_sql = _plain_rows_sql(WORKSPACE, AccountFilter(limit=100))
            open_loop, closed_loop, wrk_rates, sql_rates, sql_simple_rates, plain_rates = (
                [],
                [],
                [],
                [],
                [],
                [],
            )
            for _ in range(RUNS):
                open_loop.append(_loadgen(target, key, "--rate", str(RATE), "--duration", str(DURATION)))
                closed_loop.append(
                    _loadgen(target, key, "--concurrency", str(CONCURRENCY), "--duration", str(DURATION))
                )
                wrk_rate = _wrk(target, key)
                if wrk_rate is not None:
                    wrk_rates.append(wrk_rate)
                sql_rates.append(_pgbench(url, page_sql))
                sql_simple_rates.append(_pgbench(url, page_sql, mode="simple"))
                plain_rates.append(_pgbench(url, plain_sql))
                time.sleep(1)
        finally:
            api.stop(30)

    p50 = median([r["p50_ms"] for r in open_loop])
    p99 = median([r["p99_ms"] for r in open_loop])
    achieved = median([r["achieved_rps"] for r in open_loop])
    errors = sum(int(r["errors"]) for r in open_loop + closed_loop)
    api_rate = median(wrk_rates) if wrk_rates else median([r["achieved_rps"] for r in closed_loop])
    sql_rate = median(sql_rates)
    ratio = api_rate / sql_rate
    data = {
        "open_loop": open_loop,
        "closed_loop": closed_loop,
        "wrk_rps": wrk_rates,
        "sql_tps": sql_rates,
        "sql_simple_tps": sql_simple_rates,
        "plain_rows_tps": plain_rates,
        "p50_ms": p50,
        "p99_ms": p99,
        "api_rps": api_rate,
        "sql_tps_median": sql_rate,
        "sql_simple_tps_median": median(sql_simple_rates),
        "plain_rows_tps_median": median(plain_rates),
        "ratio": ratio,
        "errors": errors,
    }
    tool = "wrk" if wrk_rates else "bench.loadgen (closed loop)"
    markdown = f"""## 3. API: `GET /v1/analytics/accounts?limit=100`, {ACCOUNTS:,} accounts in one workspace

| measure | median of {RUNS} runs | target |
| --- | --- | --- |
| latency at {RATE:.0f} requests/s (open loop), p50 | {p50:.1f} ms | |
| latency at {RATE:.0f} requests/s (open loop), p99 | {p99:.1f} ms | < 30 ms |
| rate achieved by the open loop | {achieved:.0f} requests/s | 200 |
| API peak rate, {CONCURRENCY} connections ({tool}) | {api_rate:.0f} requests/s | |
| the API's SQL statement, pgbench, {CONCURRENCY} clients, prepared (as the API runs it) | {sql_rate:.0f} queries/s | |
| API / its SQL statement | {ratio:.0%} | ≥ 40% |
| the same statement unprepared (`-M simple`; API / it: {api_rate / median(sql_simple_rates):.0%}) | {median(sql_simple_rates):.0f} queries/s | |
| the plain row query without JSON, prepared (API / it: {api_rate / median(plain_rates):.0%}) | {median(plain_rates):.0f} queries/s | |
| non-200 answers | {errors} | 0 |

The load comes from a second process (`bench.loadgen`, and `wrk` when installed); the API runs as
`dravo-sync api` with its defaults, against a database of its own. Everything shares the same 2
cores: during the closed loop PostgreSQL, the API and `wrk` compete for them, while pgbench alone
has them, so the ratio is a ceiling-relative figure. The API's statement has PostgreSQL build the
response JSON (rows, metric filtering and order, times, warnings), so it costs PostgreSQL several
times the plain row query; the API passes the bytes through."""
    save("api", "python -m bench api", markdown, data)
    return data
