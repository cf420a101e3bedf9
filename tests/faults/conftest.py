"""Fault-injection suite (docs/faults.md): real worker/beat/API processes under crashes, outages and load.

Every module here is marked `faults` (excluded from the default run by `addopts`); run them with
`make faults` or `.venv/bin/pytest -m faults tests/faults`. docs/faults.md describes each test.
"""

from tests.faults.fixtures import (  # noqa: F401
    credential_scan,
    faults_env,
    private_postgres,
    private_redis,
    processes,
    workspace,
)
from tests.support.fixtures import log_dir, simulator, simulator_server  # noqa: F401
