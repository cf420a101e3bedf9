"""Generated clients against `dravo-sync api` as a real process (the API suite's fixtures)."""

from __future__ import annotations

from tests.e2e.api.conftest import api_server  # noqa: F401
from tests.support.fixtures import e2e_env, e2e_redis, log_dir, processes, simulator, simulator_server  # noqa: F401
