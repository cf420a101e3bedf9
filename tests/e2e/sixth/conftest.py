"""The sixth-platform test: real processes (fixtures of tests.support.fixtures)."""

from __future__ import annotations

from tests.support.fixtures import (  # noqa: F401
    e2e_env,
    e2e_redis,
    log_dir,
    processes,
    simulator,
    simulator_server,
)
