"""pytest fixtures for end-to-end tests with real processes.

Use them from a conftest.py next to your tests (pytest only loads `pytest_plugins` from the
root conftest, so import the names instead):

    from tests.support.fixtures import (  # noqa: F401
        e2e_env, log_dir, processes, simulator, simulator_server,
    )

- `simulator_server` (session): one `dravo-sync simulator` on a free port for the whole run.
- `simulator` (function): a `simulator.client.SimulatorClient` on it, reset (latency 0) first.
- `e2e_env` (function): environment for child processes: the throw-away test database, a
  dedicated Redis database (flushed), the simulator's base URLs, and short leases/intervals.
  Add or override variables with `e2e_env.update(...)` before starting processes.
- `processes` (function): a `Processes` that starts `worker`/`beat` children with `e2e_env` and
  stops them all (SIGTERM, then SIGKILL) at teardown; their log tails are printed, so a failing
  test shows them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from ops.testing.processes import (
    ManagedProcess,
    simulator_env,
    start_beat,
    start_simulator,
    start_worker,
)
from simulator.client import SimulatorClient

# Not the conftest's db 9: other suites flush that one while our processes use it.
E2E_REDIS_URL = os.environ.get("DRAVO_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/12")

# Short enough that the failure tests finish quickly, long enough for a healthy sync.
FAST_SETTINGS = {
    "DRAVO_LEASE_SECONDS": "10",
    "DRAVO_DISPATCH_INTERVAL_SECONDS": "0.5",
    "DRAVO_BROKER_VISIBILITY_TIMEOUT_SECONDS": "60",
    "DRAVO_TASK_SOFT_TIME_LIMIT_SECONDS": "20",
    "DRAVO_TASK_TIME_LIMIT_SECONDS": "30",
    "DRAVO_HTTP_TIMEOUT_SECONDS": "8",
    "DRAVO_BACKOFF_BASE_SECONDS": "600",
    "DRAVO_REFRESH_MIN_INTERVAL_SECONDS": "60",
    "DRAVO_LOG_LEVEL": "INFO",
    # One Celery process per started worker, so a test knows what it kills and counts.
    "DRAVO_WORKER_PROCESSES": "1",
}


@pytest.fixture(scope="session")
def simulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ManagedProcess, str]]:
    log_dir = tmp_path_factory.mktemp("simulator")
    process, base_url = start_simulator(dict(os.environ), log_dir)
    yield process, base_url
    process.stop(10)


@pytest.fixture
def simulator(simulator_server: tuple[ManagedProcess, str]) -> Iterator[SimulatorClient]:
    _, base_url = simulator_server
    with SimulatorClient(base_url) as client:
        client.reset()
        client.set_latency(0)
        yield client


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def e2e_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(E2E_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def e2e_env(
    test_env: dict[str, str],
    simulator: SimulatorClient,
    e2e_redis: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    env = {**os.environ, **test_env, "REDIS_URL": E2E_REDIS_URL, **simulator_env(simulator.base_url)}
    env.update(FAST_SETTINGS)
    # This process reads the same settings (RefreshService, assertions).
    for key in ("REDIS_URL", *FAST_SETTINGS, *simulator_env(simulator.base_url)):
        monkeypatch.setenv(key, env[key])
    from ops.foundation.settings import get_settings

    get_settings.cache_clear()
    return env


class Processes:
    """Children started for one test; all stopped at teardown, in reverse order."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started: list[ManagedProcess] = []

    def worker(self, name: str = "worker", **kwargs: Any) -> ManagedProcess:
        proc = start_worker(self.env, self.log_dir, name=name, **kwargs)
        self.started.append(proc)
        return proc

    def beat(self, name: str = "beat") -> ManagedProcess:
        proc = start_beat(self.env, self.log_dir, name=name)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop(15)
            print(f"--- {proc.name} (pid {proc.pid}) log tail ---\n{proc.tail(60)}")


@pytest.fixture
def processes(e2e_env: dict[str, str], log_dir: Path) -> Iterator[Processes]:
    group = Processes(e2e_env, log_dir)
    try:
        yield group
    finally:
        group.stop_all()
