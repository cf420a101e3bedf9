"""End-to-end API tests: `dravo-sync api` as a real process, over a real socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.testing.processes import ManagedProcess, cli_args, free_port, start_listening
from tests.integration.api import seeding
from tests.support.fixtures import e2e_env, e2e_redis, log_dir, processes, simulator, simulator_server  # noqa: F401

ApiStarter = Callable[..., tuple[ManagedProcess, str]]


def start_api(env: dict[str, str], log_path: Path, timeout: float = 30.0) -> tuple[ManagedProcess, str]:
    """`dravo-sync api` on a free port; returns once /healthz answers."""
    port = free_port()
    args = cli_args("api", "--host", "127.0.0.1", "--port", str(port))
    return start_listening("api", args, env, log_path, port, "/healthz", timeout)


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[ApiStarter]:
    """Start API processes with a given environment; all are stopped (SIGTERM) at teardown."""
    started: list[ManagedProcess] = []

    def start(env: dict[str, str]) -> tuple[ManagedProcess, str]:
        env = {"DRAVO_JWT_SECRET": seeding.JWT_SECRET, **env}
        proc, base = start_api(env, tmp_path / f"api-{len(started)}.log")
        started.append(proc)
        return proc, base

    yield start
    for proc in started:
        proc.stop(15)
        print(f"--- api (pid {proc.pid}) log tail ---\n{proc.tail(40)}")
