"""Refreshes leave the scheduled syncs their share, and skip accounts waiting out a rate limit:
counted platform calls, with a real worker, the API and the simulator (docs/worker.md, "On-demand
refresh")."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.accounts import REFRESH_BUDGET_WARNING, REFRESH_PENDING_WARNING
from models.tables import AccountSync
from ops.testing.processes import cli_args
from simulator.client import SimulatorClient
from tests.e2e.api.conftest import ApiStarter
from tests.integration.api import seeding
from tests.support.accounts import connect
from tests.support.fixtures import Processes

pytestmark = pytest.mark.e2e

URL = "/v1/analytics/accounts"


def _refresh(base: str, key: str, account_id: str) -> dict[str, object]:
    response = httpx.get(
        f"{base}{URL}",
        params={"accountId": account_id, "refresh": "true"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    row: dict[str, object] = response.json()["items"][0]
    return row


def test_refreshes_stop_at_the_reserve_and_scheduled_syncs_still_get_it(
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    processes: Processes,
    session_factory: sessionmaker[Session],
    api_server: ApiStarter,
) -> None:
    # An X app budget of 2 calls an hour, half reserved: one refresh call, then only scheduled ones.
    e2e_env.update(DRAVO_X_APP_BUDGET="2/3600", DRAVO_SCHEDULED_BUDGET_RESERVE_PERCENT="50")
    ws = seeding.workspace(session_factory)
    ids = {}
    for native in ("501", "502"):
        sim = simulator.upsert_account("x", native, handle=f"fair{native}")
        ids[native] = connect(session_factory, ws.id, "x", native, sim["access_token"])
    processes.worker()
    _, base = api_server({**e2e_env, "DRAVO_REFRESH_WAIT_SECONDS": "10"})

    first = _refresh(base, ws.api_key, ids["501"])
    assert first["sync_status"] == "synced", first
    assert simulator.total_requests("x", "501") == 1

    # The last token is the scheduled syncs': the refresh answers from the cache, sends nothing.
    second = _refresh(base, ws.api_key, ids["502"])
    assert second["warnings"] == [REFRESH_BUDGET_WARNING]
    assert simulator.total_requests("x", "502") == 0

    # A scheduled sync (here inline, the same budget keys) still gets the reserved token.
    done = subprocess.run(
        cli_args("sync", ids["502"]), env=e2e_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sync_status"] == "synced"
    assert simulator.total_requests("x", "502") == 1


def test_a_deferred_account_is_not_called(
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    processes: Processes,
    session_factory: sessionmaker[Session],
    api_server: ApiStarter,
) -> None:
    ws = seeding.workspace(session_factory)
    sim = simulator.upsert_account("x", "601", handle="deferred")
    account_id = connect(session_factory, ws.id, "x", "601", sim["access_token"])
    note = "X user rate limit reached; next attempt after 2099-01-01T00:00:00Z"
    with session_factory.begin() as session:
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == account_id)
            .values(deferred_note=note, next_sync_at=datetime(2099, 1, 1, tzinfo=UTC))
        )
    processes.worker()
    _, base = api_server({**e2e_env, "DRAVO_REFRESH_WAIT_SECONDS": "3"})

    row = _refresh(base, ws.api_key, account_id)
    assert note in row["warnings"]  # type: ignore[operator]
    assert REFRESH_PENDING_WARNING not in row["warnings"]  # type: ignore[operator]
    assert simulator.total_requests("x", "601") == 0
