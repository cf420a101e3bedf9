"""Benchmark 5: `dravo-sync account import` of 10,000 JSON Lines, then the same file again.

Run as an operator runs it (the CLI, a subprocess, the progress bar on stderr), against a database
of its own. The second run must find every line unchanged (idempotence) and is timed too.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.base import PLATFORMS
from bench.database import bench_database
from bench.report import median, save
from ops.testing.processes import cli_args

LINES = 10_000
RUNS = 3
TARGET_SECONDS = 60.0
# A Fernet key for the benchmark's own throw-away database.
BENCH_KEY = "kQ3Ua1vDmR8bq9Jm0Vwq8tqXb1n3Wv6m7gAq5yQ2f3E="


def _line(n: int) -> dict[str, Any]:
    platform = PLATFORMS[n % len(PLATFORMS)]
    return {
        "platform": platform,
        "platform_account_id": f"urn:li:organization:{n}" if platform == "linkedin" else str(10**9 + n),
        "handle": f"bench{n}",
        "access_token": f"bench-access-{n:06d}-" + "x" * 180,  # the length of a Meta long-lived token
        "refresh_token": f"bench-refresh-{n:06d}" if platform in ("x", "linkedin", "tiktok") else None,
        "token_expires_at": "2027-03-01T00:00:00Z",
        "scopes": ["scope_a", "scope_b"],
    }


def _import(env: dict[str, str], path: Path, workspace: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        cli_args("account", "import", str(path), "--workspace", workspace),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"import failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    return elapsed, done.stdout.strip()


def run() -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="dravo-bench-import-"))
    path = directory / "accounts.jsonl"
    path.write_text("".join(json.dumps(_line(n)) + "\n" for n in range(LINES)))
    first: list[float] = []
    second: list[float] = []
    summaries: list[str] = []
    with bench_database() as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DRAVO_ENV": "test",
            "DRAVO_ENCRYPTION_KEY": BENCH_KEY,
            "COLUMNS": "100",
        }
        for _ in range(RUNS):
            workspace = subprocess.run(
                cli_args("workspace", "create", "bench-import"),
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            elapsed, summary = _import(env, path, workspace)
            assert summary.endswith(f"{LINES} connected, 0 reconnected, 0 unchanged, 0 bad lines"), summary
            first.append(elapsed)
            again, summary_again = _import(env, path, workspace)
            assert summary_again.endswith(f"0 connected, 0 reconnected, {LINES} unchanged, 0 bad lines")
            second.append(again)
            summaries += [summary, summary_again]
    first_median, second_median = median(first), median(second)
    data = {
        "first_seconds": first,
        "second_seconds": second,
        "lines": LINES,
        "first_median": first_median,
        "second_median": second_median,
        "summaries": summaries,
    }
    markdown = f"""## 5. `account import`: {LINES:,} JSON Lines

`dravo-sync account import accounts.jsonl --workspace ws_...` run as a subprocess, as an operator
runs it, on a file of {LINES:,} accounts over the five platforms (tokens of realistic length, refresh
tokens where the platform issues them), into a fresh workspace; then the same file again.

| run | median of {RUNS} runs | lines/s | target |
| --- | --- | --- | --- |
| first import: {LINES:,} connected | {first_median:.1f} s | {LINES / first_median:.0f} | < {TARGET_SECONDS:.0f} s |
| the same file again: {LINES:,} unchanged, nothing written | {second_median:.1f} s | {LINES / second_median:.0f} | |

Each batch of 500 lines is one transaction. It reads its workspaces and existing accounts in two
statements, inserts its new accounts and their sync rows in two more, and sends only reconnects
through `connect_account` one by one; only if the database refuses a line is the batch rolled back
and run again line by line, each in a savepoint (so a bad line never leaves half an account). The
second run decrypts each stored token to compare it with the file's, and writes nothing. Times
include starting the CLI, reading the file and validating every line."""
    save("import", "python -m bench import", markdown, data)
    return data
