"""The attacks that used to write secrets to the log, against a real `dravo-sync api` process:
its log (JSON, as DRAVO_LOG_JSON asks) must hold none of the secrets the requests carried."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.admin import create_api_key, create_workspace
from tests.conftest import SUITE_SECRETS, TEST_ENCRYPTION_KEY, leaked_secrets, remember_secret
from tests.e2e.api.conftest import ApiStarter
from tests.integration.api import seeding

pytestmark = pytest.mark.e2e

PLATFORM_TOKEN = "IGQVJ-e2e-platform-token-never-logged"


def test_attacking_requests_leave_no_secret_and_no_error_in_the_log(
    test_env: dict[str, str], session_factory: sessionmaker[Session], api_server: ApiStarter
) -> None:
    with session_factory.begin() as session:
        workspace_id = create_workspace(session, "attacked")
        manage = create_api_key(session, workspace_id, "manage").key
    remember_secret(PLATFORM_TOKEN)
    env = {**os.environ, **test_env, "DRAVO_LOG_LEVEL": "INFO", "DRAVO_LOG_JSON": "true"}
    env["DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP"] = "true"  # a target that needs no DNS
    proc, base = api_server(env)
    auth = {"Authorization": f"Bearer {manage}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.delete("/v1/webhooks/whe_%00", headers=auth).status_code == 422
        # A webhook create that fails (a refused target), then one that succeeds: its secret.
        assert http.post("/v1/webhooks", json={"url": "https://10.0.0.1/x"}, headers=auth).status_code == 422
        created = http.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=auth)
        assert created.status_code == 201
        remember_secret(created.json()["secret"])
        body = {"platform": "x", "platform_account_id": "42", "access_token": PLATFORM_TOKEN}
        assert http.post("/v1/accounts", json=body, headers=auth).status_code == 201
        assert http.post("/v1/accounts", content=b"\x00{", headers=auth).status_code == 422
        assert http.post("/v1/accounts", content=b"{" + b" " * 70_000 + b"}", headers=auth).status_code == 413
        assert http.post("/v1/webhooks", json={"url": "https://example.com/"}).status_code == 401
        jwt = seeding.dashboard_jwt(workspace_id)
        assert (
            http.get("/v1/analytics/accounts", headers={"Authorization": f"Bearer {jwt}"}).status_code == 200
        )
        assert (
            http.get("/v1/analytics/accounts", headers={"Authorization": f"Bearer {jwt}x"}).status_code == 401
        )
    assert proc.stop(15) == 0
    assert leaked_secrets(proc.log_path.parent, SUITE_SECRETS) == []
    for secret in (manage, TEST_ENCRYPTION_KEY, seeding.JWT_SECRET, PLATFORM_TOKEN):
        assert secret not in proc.log_text()
    lines = [json.loads(line) for line in proc.log_text().splitlines() if line.strip()]
    # Every line is JSON: uvicorn's own lines and its access log too.
    assert any(line.get("logger") == "uvicorn.access" for line in lines)
    # Nothing a client sent made an error-level line; the warnings carry request ids.
    assert [line for line in lines if line.get("level") in ("error", "critical")] == []
    warnings = [line for line in lines if line.get("event") == "api.invalid_input"]
    assert warnings and all(line["request_id"].startswith("req_") for line in warnings)
