"""Benchmark 3: GET /v1/analytics/accounts?limit=100 over 100,000 accounts in one workspace.

In one run: the API's latency at a fixed 200 requests/s (open loop, second process), its peak
rate under a closed loop, and the rate of the same SQL query run by pgbench at the same
concurrency — the floor the API cannot beat.
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
from typing import Any

import httpx
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bench.database import bench_database, libpq, seed_accounts
from bench.report import median, save
from bench.processes import free_port, wait_http
from models.admin import create_api_key
from models.db import make_engine, make_session_factory
from models.queries import _row_select
from models.read_models import AccountFilter
from models.tables import Account

ACCOUNTS = 100_000
WORKSPACE = "ws_bench_api"
RATE = 200.0
CONCURRENCY = 16
DURATION = 10.0
RUNS = 3


def _list_sql(workspace_id: str, where: AccountFilter) -> str:
    query = (
        _row_select()
        .where(Account.workspace_id == workspace_id)
        .order_by(Account.created_at, Account.id)
        .limit(where.limit)
    )
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


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


def _pgbench(database_url: str, sql: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(sql.replace("\n", " ") + ";\n")
    try:
        out = subprocess.run(
            ["pgbench", "-n", "-c", str(CONCURRENCY), "-j", "2", "-T", str(int(DURATION)), "-f", script.name,
             libpq(database_url)],
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
        api = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        target = f"http://127.0.0.1:{port}/v1/analytics/accounts?limit=100"
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
            assert httpx.get(target, headers={"Authorization": f"Bearer {key}"}).json()["total"] == 100
            _loadgen(target, key, "--concurrency", "4", "--duration", "2")  # warm-up
            open_loop, closed_loop, wrk_rates, sql_rates = [], [], [], []
            for _ in range(RUNS):
                open_loop.append(_loadgen(target, key, "--rate", str(RATE), "--duration", str(DURATION)))
                closed_loop.append(
                    _loadgen(target, key, "--concurrency", str(CONCURRENCY), "--duration", str(DURATION))
                )
                wrk_rate = _wrk(target, key)
                if wrk_rate is not None:
                    wrk_rates.append(wrk_rate)
                sql_rates.append(_pgbench(url, _list_sql(WORKSPACE, AccountFilter(limit=100))))
                time.sleep(1)
        finally:
            api.terminate()
            api.wait(timeout=30)

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
        "p50_ms": p50,
        "p99_ms": p99,
        "api_rps": api_rate,
        "sql_tps_median": sql_rate,
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
| the same SQL query, pgbench, {CONCURRENCY} clients | {sql_rate:.0f} queries/s | |
| API / raw query | {ratio:.0%} | ≥ 40% |
| non-200 answers | {errors} | 0 |

The load comes from a second process (`bench.loadgen`, and `wrk` when installed); the API runs as
`dravo-sync api` with its defaults, against a database of its own."""
    save("api", "python -m bench api", markdown, data)
    return data
