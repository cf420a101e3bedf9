"""`dravo-sync up` runs the API and the worker as their own least-privilege roles (models/roles.py):
a sync and a read, and the management API's disconnect delivered as a webhook by the worker; and
the CLI in a second terminal works with no exports, from the run's settings file."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ops.demo import DEMO_WORKSPACE_ID
from ops.testing.processes import free_port, free_port_block
from ops.testing.receiver import running_receiver
from tests.e2e.ops.test_up import UP_REDIS_URL, _api_key, _start, _stop

ROOT = Path(__file__).resolve().parents[3]


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A second terminal: no DRAVO_ variable, no DATABASE_URL, only the state directory's place.
    clean = {"PATH": os.environ["PATH"], "HOME": str(state.parent), "XDG_STATE_HOME": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=clean,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _connected_roles(database_url: str) -> set[str]:
    with psycopg.connect(_libpq(database_url)) as conn:
        rows = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    return {str(row[0]) for row in rows}


@pytest.mark.e2e
def test_up_runs_each_process_as_its_role_and_the_cli_needs_no_exports(
    test_env: dict[str, str], database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    # `session_factory` empties the tables: the synced row below is synced by this run's worker.
    tag = secrets.token_hex(4)
    names = {kind: f"dravo_test_{tag}_{kind}" for kind in ("api_read", "api_write", "worker")}
    base = make_url(database_url)
    ports = {name: free_port() for name in ("api", "flower", "simulator")}
    ports["worker_metrics"] = free_port_block(os.cpu_count() or 1)
    state = tmp_path / "state"
    env = {
        **os.environ,
        **test_env,
        "REDIS_URL": UP_REDIS_URL,
        "DRAVO_ENV": "development",
        "DRAVO_DISPATCH_INTERVAL_SECONDS": "1",
        "DRAVO_WORKER_METRICS_PORT": str(ports["worker_metrics"]),
        "XDG_STATE_HOME": str(state),
        "DRAVO_STATE_DIR": str(state / "dravo-sync"),
        "DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
        "DRAVO_WEBHOOK_SWEEP_INTERVAL_SECONDS": "0.5",
        **{
            f"DRAVO_{kind.upper()}_DATABASE_URL": base.set(username=name).render_as_string(
                hide_password=False
            )
            for kind, name in names.items()
        },
    }
    log = tmp_path / "up.log"
    up = _start(env, ports, log)
    try:
        key = _api_key(log, up)
        api = f"http://127.0.0.1:{ports['api']}"
        rows: list[dict[str, object]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # one sync by the worker, one read by the API
            rows = httpx.get(
                f"{api}/v1/analytics/accounts", headers={"Authorization": f"Bearer {key}"}
            ).json()["items"]
            if any(row["sync_status"] == "synced" for row in rows):
                break
            time.sleep(1)
        assert any(row["sync_status"] == "synced" for row in rows), log.read_text()[-3000:]
        # The read role serves the read and records the key's use; the worker's role synced.
        readers = {role for kind, role in names.items() if kind != "api_write"}
        deadline = time.monotonic() + 10
        while not readers <= _connected_roles(database_url) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert readers <= _connected_roles(database_url)

        run_env = state / "dravo-sync" / "run.env"
        assert stat.S_IMODE(run_env.stat().st_mode) == 0o600
        assert stat.S_IMODE(run_env.parent.stat().st_mode) == 0o700

        status = _cli(state, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)
        listed = _cli(state, "account", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert "dravo_busy" in listed.stdout

        # The management API (its role) disconnects; the worker (its role) fans out and delivers.
        created = _cli(state, "apikey", "create", "--workspace", DEMO_WORKSPACE_ID, "--scope", "manage")
        assert created.returncode == 0, created.stderr
        manage = {"Authorization": f"Bearer {created.stdout.split()[-1]}"}
        with running_receiver() as receiver:
            hook = httpx.post(
                f"{api}/v1/webhooks",
                headers=manage,
                json={"url": receiver.url, "events": ["account.disconnected"]},
            )
            assert hook.status_code == 201, hook.text
            account_id = str(rows[0]["account_id"])
            gone = httpx.delete(f"{api}/v1/accounts/{account_id}", headers=manage)
            assert gone.status_code == 200, gone.text
            deadline = time.monotonic() + 30
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.2)
            assert receiver.received, log.read_text()[-3000:]
            assert account_id.encode() in receiver.received[0].body
        assert set(names.values()) <= _connected_roles(database_url)  # the writes, as their role
    finally:
        if up.poll() is None:
            _stop(up, list(ports.values()))
        with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP OWNED BY "{name}"')
                conn.execute(f'DROP ROLE "{name}"')
