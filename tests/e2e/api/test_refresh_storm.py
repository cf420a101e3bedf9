"""A refresh storm holds no thread: `/readyz`, another workspace's lists and `/metrics` stay fast.

`dravo-sync api` as a real process with no worker, so every admitted refresh waits its whole
DRAVO_REFRESH_WAIT_SECONDS. Were each wait to hold a thread of the one pool the probes and other
requests need, 45 of them would stall everyone for seconds. (The full storm against
a slow platform, with figures, is `python -m bench refresh_storm`.)
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.accounts import REFRESH_PENDING_WARNING
from models.base import utcnow
from tests.e2e.api.conftest import ApiStarter
from tests.integration.api import seeding

pytestmark = pytest.mark.e2e

URL = "/v1/analytics/accounts"
WAIT_SECONDS = 3.0
STORM = 60
METRICS_TOKEN = "metrics-token-for-the-storm-test"


def _workspace(factory: sessionmaker[Session], name: str, accounts: int) -> seeding.SeededWorkspace:
    ws = seeding.workspace(factory, name)
    now = utcnow()
    for n in range(accounts):
        seeding.account(factory, ws.id, f"acc_{name}_{n}", "x", created_at=now + timedelta(seconds=n))
    return ws


async def _timed(client: httpx.AsyncClient, path: str, key: str | None = None) -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    started = time.monotonic()
    response = await client.get(path, headers=headers)
    return response.status_code, time.monotonic() - started


def test_a_refresh_storm_does_not_block_readyz_lists_or_metrics(
    e2e_env: dict[str, str], session_factory: sessionmaker[Session], api_server: ApiStarter
) -> None:
    stormers = [_workspace(session_factory, f"storm{i}", 3) for i in range(3)]
    bystander = _workspace(session_factory, "bystander", 3)
    _, base = api_server(
        {
            **e2e_env,
            "DRAVO_REFRESH_WAIT_SECONDS": str(WAIT_SECONDS),
            "DRAVO_REFRESH_CONCURRENT_PER_WORKSPACE": str(STORM),
            "DRAVO_REFRESH_ACCOUNTS_PER_MINUTE": "100000",
            "DRAVO_METRICS_TOKEN": METRICS_TOKEN,
        }
    )

    async def scenario() -> tuple[list[tuple[int, float, list[str]]], list[tuple[str, int, float]]]:
        limits = httpx.Limits(max_connections=STORM + 10, max_keepalive_connections=STORM + 10)
        async with (
            httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as storm_client,
            httpx.AsyncClient(base_url=base, timeout=30) as probe_client,
        ):

            async def refresh(key: str) -> tuple[int, float, list[str]]:
                started = time.monotonic()
                response = await storm_client.get(
                    URL, params={"refresh": "true"}, headers={"Authorization": f"Bearer {key}"}
                )
                warnings = [w for item in response.json()["items"] for w in item["warnings"]]
                return response.status_code, time.monotonic() - started, warnings

            storm = [asyncio.create_task(refresh(stormers[n % 3].api_key)) for n in range(STORM)]
            await asyncio.sleep(0.5)  # the storm is waiting now
            probes: list[tuple[str, int, float]] = []
            while not all(task.done() for task in storm) and len(probes) < 300:
                for name, path, key in (
                    ("readyz", "/readyz", None),
                    ("list", URL, bystander.api_key),
                    ("metrics", "/metrics", METRICS_TOKEN),
                ):
                    status, seconds = await _timed(probe_client, path, key)
                    probes.append((name, status, seconds))
            return [await task for task in storm], probes

    results, probes = asyncio.run(scenario())
    assert len(probes) >= 30, "the probes ran while the storm waited"
    assert all(status == 200 for _, status, _ in probes), probes
    # Held threads made every probe wait for the refreshes (9 s seen). Now /readyz (its own
    # connection) and /metrics (no query) never queue behind them; a list may queue briefly for
    # the read pool behind the storm's own key lookups and pages, on a machine shared with others.
    for name, limit in (("readyz", 0.5), ("metrics", 0.5), ("list", 1.5)):
        times = sorted(seconds for probe, _, seconds in probes if probe == name)
        assert times[-1] < limit, (name, times[-5:])
        assert times[len(times) * 9 // 10] < 0.25, (name, times[-5:])
    for status, seconds, warnings in results:
        assert status == 200
        assert seconds < WAIT_SECONDS + 1
        assert warnings.count(REFRESH_PENDING_WARNING) == 3  # no worker: each row still pending
