"""One simulator per test module, reset around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.client import SimulatorClient
from simulator.server import running_simulator


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_simulator(latency_ms=0) as base:
        yield base


@pytest.fixture
def sim(url: str) -> Iterator[SimulatorClient]:
    with SimulatorClient(url) as client:
        client.reset()
        yield client
        client.reset()
