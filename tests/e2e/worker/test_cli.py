"""`dravo-sync sync ACCOUNT_ID`: one sync inline, the row printed as the API returns it."""

from __future__ import annotations

import json
import subprocess

from sqlalchemy.orm import Session, sessionmaker

from ops.testing.processes import cli_args
from simulator.client import SimulatorClient
from tests.support.accounts import connect

FIELDS = [
    "account_id", "platform", "handle", "platform_account_id", "metrics", "warnings",
    "sync_status", "error_message", "last_updated_at", "stale_after",
]  # fmt: skip


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_args(*args), env=env, capture_output=True, text=True, timeout=60, check=False)


def test_sync_prints_the_row_as_json(
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    sim = simulator.upsert_account("x", "cli-1")
    account_id = connect(session_factory, workspace, "x", "cli-1", sim["access_token"])
    done = run(e2e_env, "sync", account_id)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert list(row) == FIELDS
    assert row["account_id"] == account_id and row["sync_status"] == "synced"
    assert row["metrics"]["followers_count"] >= 0
    assert row["last_updated_at"].endswith("Z")
    assert simulator.total_requests("x", "cli-1") == 1
    assert sim["access_token"] not in done.stdout + done.stderr


def test_an_unknown_account_is_a_one_line_error(e2e_env: dict[str, str]) -> None:
    done = run(e2e_env, "sync", "acc_nope")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == ["error: unknown account 'acc_nope'"]


def test_sync_all_shows_progress_and_a_summary(
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    for n in range(3):
        sim = simulator.upsert_account(
            "tiktok", f"bulk-{n}", scenario="revoked_token" if n == 2 else "healthy"
        )
        connect(session_factory, workspace, "tiktok", f"bulk-{n}", sim["access_token"])
    sim = simulator.upsert_account("x", "bulk-x")
    connect(session_factory, workspace, "x", "bulk-x", sim["access_token"])

    done = run(e2e_env, "sync", "--all", "--platform", "tiktok")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"accounts": 3, "by_status": {"requires_reconnect": 1, "synced": 2}}
    assert "3/3" in done.stderr  # the progress bar, on stderr
    assert simulator.total_requests("x", "bulk-x") == 0


def test_sync_needs_an_account_or_all(e2e_env: dict[str, str]) -> None:
    done = run(e2e_env, "sync")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: give one ACCOUNT_ID, or --all"
