"""Adapters over real sockets against the simulator (latency 0, near-zero retry waits)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from simulator.client import SimulatorClient
from simulator.server import running_simulator
from tests.integration.adapters.sim_harness import Harness, RecordingSink


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    with running_simulator(latency_ms=0) as url:
        yield url


@pytest.fixture
def sim(sim_url: str) -> Iterator[SimulatorClient]:
    with SimulatorClient(sim_url) as client:
        client.reset()
        yield client


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0)) as client:
        yield client


@pytest.fixture
def h(sim: SimulatorClient, http: httpx.Client) -> Harness:
    return Harness(sim, http, RecordingSink(sim))
