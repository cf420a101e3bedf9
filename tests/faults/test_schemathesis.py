"""schemathesis against the API's own OpenAPI document, over a real socket: every documented
check (no 500, responses and status codes as documented, auth enforced, ...) for every operation,
with generated valid and invalid inputs."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.admin import create_api_key
from tests.e2e.api.conftest import start_api
from tests.integration.api import seeding

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

MAX_EXAMPLES = os.environ.get("DRAVO_SCHEMATHESIS_EXAMPLES", "300")
RUNS: dict[str, list[str]] = {"all operations, all checks": []}


@pytest.mark.timeout(900)
def test_schemathesis_finds_no_undocumented_answer(
    faults_env: dict[str, str], session_factory: sessionmaker[Session], log_dir: Path, tmp_path: Path
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    seeding.snapshot(session_factory, "acc_8f2c1d", seeding.SEED_TIME, {"followers_count": 1})
    # A manage key drives the management routes (connect, read, disconnect) past their 403.
    with session_factory.begin() as session:
        manage_key = create_api_key(session, ws.id, "manage").key
    # No worker runs: a refresh answers from the cache at once instead of waiting for one.
    env = {**faults_env, "DRAVO_JWT_SECRET": seeding.JWT_SECRET, "DRAVO_REFRESH_WAIT_SECONDS": "0"}
    api, base = start_api(env, log_dir / "api.log")
    try:
        assert httpx.get(f"{base}/openapi.json", timeout=10).status_code == 200
        for (what, selection), token in itertools.product(
            RUNS.items(), (ws.api_key, seeding.dashboard_jwt(ws.id), manage_key)
        ):
            print(f"schemathesis: {what}, {token[:4]}... credentials")
            run = subprocess.run(
                [
                    str(Path(sys.executable).with_name("schemathesis")),
                    "--config-file", str(Path(__file__).with_name("schemathesis.toml")),
                    "run", f"{base}/openapi.json",
                    "--checks", "all",
                    "--max-examples", MAX_EXAMPLES,
                    "--header", f"Authorization: Bearer {token}",
                    "--seed", "7",
                    "--report", "junit", "--report-dir", str(tmp_path / "schemathesis"),
                    "--no-color",
                    *selection,
                ],
                capture_output=True, text=True, timeout=800, check=False, cwd=tmp_path,
            )  # fmt: skip
            print(run.stdout[-4000:])
            assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    finally:
        api.stop(15)


def test_history_rejects_unix_timestamps(
    faults_env: dict[str, str], session_factory: sessionmaker[Session], log_dir: Path
) -> None:
    """The document says `format: date-time` (docs/api.md: ISO 8601); `until=0.5` is not one."""
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    api, base = start_api({**faults_env, "DRAVO_JWT_SECRET": seeding.JWT_SECRET}, log_dir / "api.log")
    try:
        for value in ("0.5", "1700000000"):
            response = httpx.get(
                f"{base}/v1/analytics/accounts/acc_8f2c1d/history",
                params={"until": value},
                headers={"Authorization": f"Bearer {ws.api_key}"},
                timeout=10,
            )
            assert response.status_code == 422, (value, response.status_code, response.text)
            assert response.json()["error"]["param"] == "until"
    finally:
        api.stop(15)
