"""End-to-end API tests: `dravo-sync api` as a real process, over a real socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.api import seeding
from tests.support.fixtures import e2e_env, e2e_redis, log_dir, processes, simulator, simulator_server  # noqa: F401
from tests.support.processes import ManagedProcess, ProcessError, cli_args, free_port, wait_until

ApiStarter = Callable[..., tuple[ManagedProcess, str]]


def start_api(env: dict[str, str], log_path: Path, timeout: float = 30.0) -> tuple[ManagedProcess, str]:
    """`dravo-sync api` on a free port; returns once /healthz answers."""
    port = free_port()
    proc = ManagedProcess.start(
        "api", cli_args("api", "--host", "127.0.0.1", "--port", str(port)), env, log_path
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if not proc.alive():
            raise ProcessError(f"api exited with {proc.process.returncode}:\n{proc.tail()}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout, 0.1, "the API's /healthz")
    except AssertionError:
        proc.stop(5)
        raise
    return proc, base


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
