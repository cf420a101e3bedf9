"""Fixtures of the fault suite (imported by tests/faults/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ops.testing.processes import RedisServer, free_port, simulator_env
from simulator.client import SimulatorClient
from tests.faults.support import CredentialScan
from tests.support.accounts import new_workspace
from tests.support.fixtures import FAST_SETTINGS, Processes
from tests.support.postgres import PostgresCluster

# Client credentials so silent token refreshes can happen; they are secrets the logs must not show.
CLIENT_SECRETS = {
    f"DRAVO_{platform.upper()}_CLIENT_SECRET": f"faults-{platform}-client-secret-{os.urandom(12).hex()}"
    for platform in ("instagram", "facebook", "x", "linkedin", "tiktok")
}
CLIENT_IDS = {
    f"DRAVO_{platform.upper()}_CLIENT_ID": f"faults-{platform}-client"
    for platform in ("instagram", "facebook", "x", "linkedin", "tiktok")
}
# Budgets far above what the simulator needs: these tests are about faults, not rate limits.
GENEROUS_BUDGETS = {
    f"DRAVO_{platform.upper()}_{kind}_BUDGET": "1000000/3600"
    for platform in ("instagram", "facebook", "x", "linkedin", "tiktok")
    for kind in ("APP", "USER")
}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone: the shared one's databases are flushed and consumed by
    other suites running at the same time, which would lose or steal our messages."""
    server = RedisServer(port=free_port(), directory=tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test alone, so the test may crash and restart it."""
    cluster = PostgresCluster(tmp_path / "pg")
    cluster.init()
    cluster.start()
    yield cluster
    cluster.stop("immediate")


@pytest.fixture
def faults_env(
    test_env: dict[str, str],
    simulator: SimulatorClient,
    private_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Environment of the children: the test database, a private Redis, the simulator, short
    leases (FAST_SETTINGS), client credentials, generous budgets, no fixed worker metrics port.
    Tests add or override variables before starting processes."""
    env = {**os.environ, **test_env, "REDIS_URL": private_redis.url, **simulator_env(simulator.base_url)}
    env.update(FAST_SETTINGS)
    env.update(CLIENT_IDS)
    env.update(CLIENT_SECRETS)
    env.update(GENEROUS_BUDGETS)
    env["DRAVO_WORKER_METRICS_PORT"] = "0"
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    from ops.foundation.settings import get_settings

    get_settings.cache_clear()
    return env


@pytest.fixture
def processes(faults_env: dict[str, str], log_dir: Path) -> Iterator[Processes]:
    group = Processes(faults_env, log_dir)
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def workspace(session_factory: sessionmaker[Session]) -> str:
    return new_workspace(session_factory)


@pytest.fixture
def credential_scan(log_dir: Path) -> CredentialScan:
    scan = CredentialScan(secrets=set(CLIENT_SECRETS.values()))
    scan.paths.append(log_dir)
    return scan
