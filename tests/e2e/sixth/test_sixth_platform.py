"""A sixth platform is synced end to end and served, from one adapter module, one simulator module
and one registry entry, with nothing else edited (docs/architecture.md's worked example); its
connect rules (the form of its account ids) come from the entry alone, are enforced by the API and
stated in its OpenAPI document.

The three are this package's `adapter.py`, `simulator.py` and `registry_entry.py`. The entry joins
the registry through the `dravo_sync.platforms` entry point of a distribution the test installs
(a `.dist-info` directory on the children's PYTHONPATH), so only the child processes see it: the
simulator, `dravo-sync db upgrade`, the API, the worker and beat, all the real programs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.admin import create_api_key, create_workspace
from ops.foundation.platforms import ENTRY_POINT_GROUP, PLATFORM_NAMES
from ops.testing.processes import cli_args, free_port, start_listening, start_simulator, wait_until
from simulator.client import SimulatorClient
from tests.e2e.sixth.registry_entry import SPEC
from tests.support.fixtures import Processes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
COUNTERS = {"followers_count": 4321, "following_count": 210, "statuses_count": 1234}


def _install_entry_point(site: Path) -> Path:
    """What `pip install` of a one-entry-point distribution leaves on sys.path."""
    dist = site / "dravo_sixth_platform-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dravo-sixth-platform\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nmastodon = tests.e2e.sixth.registry_entry:SPEC\n"
    )
    return site


def test_a_sixth_platform_is_synced_and_served(
    e2e_env: dict[str, str],
    processes: Processes,
    session_factory: sessionmaker[Session],
    log_dir: Path,
    tmp_path: Path,
) -> None:
    assert "mastodon" not in PLATFORM_NAMES  # this process's registry: the sixth is the children's
    site = _install_entry_point(tmp_path / "site")
    e2e_env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])

    sim_process, sim = start_simulator(e2e_env, log_dir)
    processes.started.append(sim_process)
    e2e_env["DRAVO_MASTODON_API_BASE"] = f"{sim}/mastodon"
    with SimulatorClient(sim) as client:
        client.set_latency(0)
        client.upsert_account("mastodon", "109", access_token="at-mastodon-109", handle="dravo")

    # The platforms table learns the platform from the registry: no migration.
    subprocess.run(cli_args("db", "upgrade"), env=e2e_env, check=True, capture_output=True, timeout=60)

    with session_factory.begin() as session:
        workspace_id = create_workspace(session, "sixth")
        key = create_api_key(session, workspace_id, "manage").key
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    api_process, api = start_listening(
        "api",
        cli_args("api", "--host", "127.0.0.1", "--port", str(port)),
        e2e_env,
        log_dir / "api.log",
        port,
        "/healthz",
    )
    processes.started.append(api_process)

    _connect_rules_come_from_the_entry(api, headers)

    connected = httpx.post(
        f"{api}/v1/accounts",
        headers=headers,
        json={
            "platform": "mastodon",
            "platform_account_id": "109",
            "handle": "dravo",
            "access_token": "at-mastodon-109",
        },
    )
    assert connected.status_code == 201, connected.text
    account_id = connected.json()["account_id"]

    processes.worker()
    processes.beat()

    def rows() -> list[dict[str, Any]]:
        response = httpx.get(f"{api}/v1/analytics/accounts", headers=headers, params={"platform": "mastodon"})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def synced() -> bool:
        items = rows()
        return len(items) == 1 and items[0]["sync_status"] == "synced"

    wait_until(synced, 60, 0.3, "the Mastodon account synced")
    [row] = rows()
    assert row["account_id"] == account_id
    assert row["platform"] == "mastodon"
    assert row["handle"] == "dravo"
    assert list(row["metrics"].items()) == list(COUNTERS.items())  # the spec's published order
    assert row["warnings"] == []
    with SimulatorClient(sim) as client:
        assert client.request_counts("mastodon", "109")["accounts/verify_credentials"] >= 1


def _connect_rules_come_from_the_entry(api: str, headers: dict[str, str]) -> None:
    """The entry's account id form and its one login, at the API and in its document."""
    assert SPEC.account_ids is not None
    body = {"platform": "mastodon", "platform_account_id": "109", "access_token": "at-mastodon-109"}
    for bad, param, reason in [
        ({"platform_account_id": "@dravo@mastodon.example"}, "platform_account_id", SPEC.account_ids.rule),
        ({"auth": "facebook"}, "auth", "not to mastodon"),
    ]:
        refused = httpx.post(f"{api}/v1/accounts", headers=headers, json=body | bad)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["param"] == param
        assert reason in refused.json()["error"]["message"]

    document = httpx.get(f"{api}/openapi.json").json()
    schema = document["paths"]["/v1/accounts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    [branch] = [b for b in schema["anyOf"] if b["properties"]["platform"] == {"const": "mastodon"}]
    assert branch["properties"]["platform_account_id"] == {"pattern": SPEC.account_ids.json_pattern}
    assert branch["properties"]["auth"] == {"enum": ["default", None]}
    assert "mastodon" in schema["properties"]["platform"]["enum"]
