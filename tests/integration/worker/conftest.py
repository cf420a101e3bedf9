"""In-process worker pieces against real Postgres, Redis and a simulator on a thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from ops.foundation.settings import Settings, get_settings
from ops.testing.processes import simulator_env
from simulator.client import SimulatorClient
from simulator.server import running_simulator
from tests.support.accounts import new_workspace
from worker.composition import WorkerDeps, build_deps


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    with running_simulator(latency_ms=0) as url:
        yield url


@pytest.fixture
def simulator(simulator_url: str) -> Iterator[SimulatorClient]:
    with SimulatorClient(simulator_url) as client:
        client.reset()
        yield client


@pytest.fixture
def settings(test_env: dict[str, str], simulator_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in simulator_env(simulator_url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DRAVO_LEASE_SECONDS", "30")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def deps(
    settings: Settings, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[WorkerDeps]:
    built = build_deps(settings, pool_size=4)
    yield built
    built.close()


@pytest.fixture
def workspace(session_factory: sessionmaker[Session]) -> str:
    return new_workspace(session_factory)
