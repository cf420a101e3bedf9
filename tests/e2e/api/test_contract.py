"""The published example response, reproduced field by field by `dravo-sync api` over HTTP."""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e.api.conftest import ApiStarter
from tests.integration.api import seeding

pytestmark = pytest.mark.e2e

# The seed's example body, verbatim (seed-api-accounts.txt).
SEED_EXAMPLE = """{ "items": [ { "account_id": "acc_8f2c1d", "platform": "x", "handle": "@dravo",
"platform_account_id": "1234567890", "metrics": { "followers_count": 2400, "following_count": 180,
"tweet_count": 320, "listed_count": 14, "like_count": 900 }, "warnings": [], "sync_status": "synced",
"error_message": null, "last_updated_at": "2026-06-29T09:00:00Z", "stale_after": "2026-06-29T15:00:00Z" },
{ "account_id": "acc_4b9e07", "platform": "facebook", "handle": "Dravo", "platform_account_id": "1122334455",
"metrics": { "followers_count": 12000, "talking_about_count": 84, "page_video_views": 3200 }, "warnings":
[ "Facebook Page insight metrics unavailable." ], "sync_status": "partial", "error_message": null,
"last_updated_at": "2026-06-29T09:00:00Z", "stale_after": "2026-06-29T15:00:00Z" } ], "total": 2}"""


def _env(test_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **test_env, "DRAVO_LOG_LEVEL": "INFO"}


def test_seed_example_field_by_field(
    test_env: dict[str, str], session_factory: sessionmaker[Session], api_server: ApiStarter
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    _, base = api_server(_env(test_env))
    expected = json.loads(SEED_EXAMPLE)
    for token in (ws.api_key, seeding.dashboard_jwt(ws.id)):
        response = httpx.get(f"{base}/v1/analytics/accounts", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        body = response.json()
        # The seed's fields first, unchanged; then the cursor (docs/contract.md section 1), null here.
        assert list(body) == ["items", "total", "next_cursor"]
        assert body.pop("next_cursor") is None
        assert "link" not in response.headers
        assert body["total"] == expected["total"]
        for got, want in zip(body["items"], expected["items"], strict=True):
            assert list(got) == list(want)  # every field, in the seed's order
            for name, value in want.items():
                assert got[name] == value, name
                assert type(got[name]) is type(value), name
            assert list(got["metrics"]) == list(want["metrics"])  # even the key order
        assert body == expected

    refused = httpx.get(f"{base}/v1/analytics/accounts")
    assert refused.status_code == 401
    assert refused.json() == {
        "error": {"code": "unauthorized", "message": "Missing or invalid API key / JWT."}
    }


def test_openapi_and_probes_over_the_socket(
    test_env: dict[str, str], session_factory: sessionmaker[Session], api_server: ApiStarter
) -> None:
    _, base = api_server(_env(test_env))
    document = httpx.get(f"{base}/openapi.json").json()
    assert "/v1/analytics/accounts" in document["paths"]
    assert httpx.get(f"{base}/readyz").json()["status"] == "ok"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signal(
    test_env: dict[str, str],
    session_factory: sessionmaker[Session],
    api_server: ApiStarter,
    sig: signal.Signals,
) -> None:
    proc, _ = api_server(_env(test_env))
    os.kill(proc.pid, sig)
    assert proc.process.wait(15) == 0, proc.tail()
    assert "Application shutdown complete" in proc.log_text()


def test_database_down_gives_503_over_http(test_env: dict[str, str], api_server: ApiStarter) -> None:
    env = {**_env(test_env), "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/dravo"}
    _, base = api_server(env)
    response = httpx.get(f"{base}/v1/analytics/accounts", headers={"Authorization": "Bearer dra_" + "a" * 43})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert httpx.get(f"{base}/readyz").status_code == 503
