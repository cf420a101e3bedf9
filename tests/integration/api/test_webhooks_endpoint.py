"""POST/GET/DELETE /v1/webhooks over a real socket: manage keys only, workspace-scoped, URL checked."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from api.asgi import create_app
from models.admin import create_api_key, create_workspace
from tests.integration.api.conftest import SettingsFactory, bearer
from tests.integration.api.server import serve

METRICS_TOKEN = "metrics-token-for-webhook-tests"


@pytest.fixture
def api(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: object
) -> Iterator[httpx.Client]:
    app = create_app(
        make_settings(
            DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP="true",
            DRAVO_METRICS_TOKEN=METRICS_TOKEN,
            DRAVO_METRICS_INTERVAL_SECONDS="0.2",
        )
    )
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def keys(sessions: sessionmaker[Session]) -> tuple[str, str, str]:
    with sessions.begin() as session:
        ws = create_workspace(session, "a")
        other = create_workspace(session, "b")
        return (
            create_api_key(session, ws, "manage").key,
            create_api_key(session, ws).key,
            create_api_key(session, other, "manage").key,
        )


def test_manage_key_creates_lists_and_deletes(
    api: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    manage, read, other = keys(session_factory)
    created = api.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/in", "events": ["account.status_changed"]},
        headers=bearer(manage),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("whe_") and body["secret"].startswith("whsec_")
    assert body["events"] == ["account.status_changed"] and body["enabled"] is True
    Webhook(body["secret"])

    # The webhook gauges ride the background gauge loop (every 0.2 s here), not the scrape.
    deadline = time.monotonic() + 10
    while True:
        metrics = api.get("/metrics", headers=bearer(METRICS_TOKEN)).text
        if "dravo_webhook_outbox_backlog" in metrics or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert 'dravo_webhook_outbox_backlog{stage="deliveries"} 0.0' in metrics
    assert 'dravo_webhook_deliveries{status="pending"} 0.0' in metrics

    listed = api.get("/v1/webhooks", headers=bearer(manage)).json()
    assert [w["id"] for w in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]
    assert api.get("/v1/webhooks", headers=bearer(other)).json() == {"items": []}

    assert api.delete(f"/v1/webhooks/{body['id']}", headers=bearer(other)).status_code == 404
    assert api.delete(f"/v1/webhooks/{body['id']}", headers=bearer(manage)).status_code == 204
    assert api.delete(f"/v1/webhooks/{body['id']}", headers=bearer(manage)).status_code == 404

    for request in (
        api.get("/v1/webhooks", headers=bearer(read)),
        api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/"}, headers=bearer(read)),
    ):
        assert request.status_code == 403
        assert request.json()["error"]["code"] == "forbidden"
    assert api.get("/v1/webhooks").status_code == 401


def test_refused_urls_and_events_are_422_naming_the_parameter(
    api: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    manage, _, _ = keys(session_factory)
    for url in ("https://169.254.169.254/", "https://10.1.1.1/x", "ftp://example.com/"):
        refused = api.post("/v1/webhooks", json={"url": url}, headers=bearer(manage))
        assert refused.status_code == 422, (url, refused.text)
        assert refused.json()["error"]["param"] == "url"
    bad_event = api.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/", "events": ["account.nope"]},
        headers=bearer(manage),
    )
    assert bad_event.status_code == 422
    assert api.get("/v1/webhooks", headers=bearer(manage)).json() == {"items": []}


def test_wrong_methods_and_unparsable_bodies_get_documented_answers(
    api: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    """Found by schemathesis: Allow named only the first route's method, and bytes that are not
    JSON got FastAPI's undocumented 400."""
    manage, _, _ = keys(session_factory)
    wrong = api.request("OPTIONS", "/v1/webhooks", headers=bearer(manage))
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"
    garbled = api.post(
        "/v1/webhooks",
        content=b"%\xfaR\xe9X",
        headers={**bearer(manage), "content-type": "application/json"},
    )
    assert garbled.status_code == 422, garbled.text
    assert garbled.json()["error"]["param"] == "body"


def test_one_endpoint_past_the_workspace_cap_is_422(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: object
) -> None:
    app = create_app(
        make_settings(DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP="true", DRAVO_WEBHOOK_MAX_ENDPOINTS_PER_WORKSPACE="1")
    )
    manage, _, _ = keys(session_factory)
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        body = {"url": "http://127.0.0.1:9/hooks"}
        assert http.post("/v1/webhooks", json=body, headers=bearer(manage)).status_code == 201
        refused = http.post("/v1/webhooks", json=body, headers=bearer(manage))
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["param"] == "url"
        assert "already has 1 webhook endpoints" in refused.json()["error"]["message"]
        assert len(http.get("/v1/webhooks", headers=bearer(manage)).json()["items"]) == 1
