"""`dravo-sync up` (what `make run` starts): the whole stack answers with demo rows in every
state, Flower and /metrics answer, SIGINT stops every child, and a second run adds no demo data."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.tables import Account, Workspace
from ops.demo import DEMO_ACCOUNTS
from ops.testing.processes import free_port, free_port_block

UP_REDIS_URL = os.environ.get("DRAVO_TEST_UP_REDIS_URL", "redis://127.0.0.1:6379/11")


def _children_of(ports: list[int]) -> list[str]:
    """Command lines of live processes started for this stack (they carry its ports)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "ops.cli" in cmdline and any(str(port) in cmdline for port in ports):
            found.append(cmdline)
    return found


def _start(env: dict[str, str], ports: dict[str, int], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "up", "--api-port", str(ports["api"]),
             "--flower-port", str(ports["flower"]), "--simulator-port", str(ports["simulator"])],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _api_key(log: Path, up: subprocess.Popen[bytes], timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"curl -s -H 'Authorization: Bearer (dra_[A-Za-z0-9_-]+)'", log.read_text())
        if match:
            return match.group(1)
        assert up.poll() is None, log.read_text()[-3000:]
        time.sleep(0.5)
    raise AssertionError("no curl command printed:\n" + log.read_text()[-3000:])


def _stop(up: subprocess.Popen[bytes], ports: list[int]) -> None:
    up.send_signal(signal.SIGINT)
    assert up.wait(timeout=60) == 0
    deadline = time.monotonic() + 10
    while _children_of(ports) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _children_of(ports) == []


METRICS_TOKEN = "metrics-token-for-the-up-test"


@pytest.mark.e2e
def test_up_runs_the_stack_and_stops_on_ctrl_c(
    test_env: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ports = {name: free_port() for name in ("api", "flower", "simulator")}
    # One exporter per worker process (one per core): ports base, base+1, ... must all be free.
    exporters = os.cpu_count() or 1
    ports["worker_metrics"] = free_port_block(exporters)
    env = {
        **os.environ,
        **test_env,
        "REDIS_URL": UP_REDIS_URL,
        "DRAVO_ENV": "development",
        "DRAVO_DISPATCH_INTERVAL_SECONDS": "1",
        "DRAVO_WORKER_METRICS_PORT": str(ports["worker_metrics"]),
        "DRAVO_METRICS_TOKEN": METRICS_TOKEN,
        "DRAVO_METRICS_INTERVAL_SECONDS": "1",
    }
    log = tmp_path / "up.log"
    up = _start(env, ports, log)
    try:
        key = _api_key(log, up)
        api = f"http://127.0.0.1:{ports['api']}"
        wanted = {"synced", "partial", "pending", "failed", "requires_reconnect"}
        deadline = time.monotonic() + 60
        statuses: set[str] = set()
        while time.monotonic() < deadline:
            body = httpx.get(
                f"{api}/v1/analytics/accounts", headers={"Authorization": f"Bearer {key}"}
            ).json()
            statuses = {row["sync_status"] for row in body["items"]}
            if wanted <= statuses and body["total"] == len(DEMO_ACCOUNTS):
                break
            time.sleep(1)
        assert wanted <= statuses, body
        rate_limited = next(r for r in body["items"] if r["handle"] == "dravo_busy")
        assert any("rate limit" in w for w in rate_limited["warnings"])

        assert httpx.get(f"http://127.0.0.1:{ports['flower']}/", timeout=10).status_code == 200
        assert httpx.get(f"{api}/metrics").status_code == 401  # not public
        reconnect = 'dravo_accounts{platform="linkedin",sync_status="requires_reconnect"} 1.0'
        metrics = ""
        deadline = time.monotonic() + 10  # the gauges are recomputed every second here
        while reconnect not in metrics and time.monotonic() < deadline:
            metrics = httpx.get(f"{api}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
            time.sleep(0.5)
        assert 'dravo_accounts_stale{platform="x"}' in metrics
        assert reconnect in metrics
        succeeded = re.compile(r'dravo_syncs_total\{outcome="succeeded",platform="\w+"\} [1-9]')
        worker_metrics = ""
        deadline = time.monotonic() + 20  # a row can be read a moment before its sync is counted
        while not succeeded.search(worker_metrics) and time.monotonic() < deadline:
            worker_metrics = ""
            for port in range(ports["worker_metrics"], ports["worker_metrics"] + exporters):
                with contextlib.suppress(httpx.HTTPError):
                    worker_metrics += httpx.get(f"http://127.0.0.1:{port}/metrics").text
            time.sleep(0.5)
        assert succeeded.search(worker_metrics), log.read_text()[-4000:]
    finally:
        if up.poll() is None:
            _stop(up, list(ports.values()))

    # A second run reuses the demo workspace and accounts.
    up = _start(env, ports, tmp_path / "up2.log")
    try:
        _api_key(tmp_path / "up2.log", up)
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Workspace)) == 1
            assert session.scalar(select(func.count()).select_from(Account)) == len(DEMO_ACCOUNTS)
    finally:
        _stop(up, list(ports.values()))
