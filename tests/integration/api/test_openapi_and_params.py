"""What a generated client relies on, over a real socket: explicit operation ids, date-time
timestamps, error responses declared with the body we send, unknown query parameters and control
characters refused by name, a `Link` header free of the request's Host, and CORS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session, sessionmaker

from api.asgi import create_app
from api.params import NO_CONTROL_PATTERN
from models.admin import create_api_key
from ops.foundation.settings import ConfigurationError
from tests.integration.api import seeding
from tests.integration.api.conftest import SettingsFactory, bearer
from tests.integration.api.server import serve

URL = "/v1/analytics/accounts"
OUR_ERROR = "#/components/schemas/ErrorResponse"
DASHBOARD = "https://dashboard.example.com"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _error_schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The schema the document declares for this status, resolvable on its own."""
    declared = document["paths"][path][method]["responses"][str(status)]
    schema = declared["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def _assert_declared(document: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    schema = _error_schema(document, path, method, response.status_code)
    Draft202012Validator(schema).validate(response.json())


def test_every_operation_has_an_explicit_unique_camel_case_id(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    ids = [operation.get("operationId", "") for _, _, operation in _operations(document)]
    assert sorted(ids) == [
        "connectAccount",
        "createWebhook",
        "deleteWebhook",
        "disconnectAccount",
        "getAccount",
        "getAccountHistory",
        "getLiveness",
        "getReadiness",
        "listAccounts",
        "listWebhooks",
    ]


def _properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: prop.get("anyOf", [prop])[0] for name, prop in schema.get("properties", {}).items()}


def test_every_timestamp_of_every_response_is_a_date_time(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    timestamps = {
        (model, name): prop
        for model, schema in schemas.items()
        for name, prop in _properties(schema).items()
        if name.endswith(("_at", "_after"))
    }
    for model, name in [
        ("AccountItem", "last_updated_at"),
        ("AccountItem", "stale_after"),
        ("SnapshotItem", "captured_at"),
        ("Connection", "connected_at"),
        ("Connection", "token_expires_at"),
        ("Connection", "next_sync_at"),
        ("Disconnection", "disconnected_at"),
        ("Webhook", "created_at"),
    ]:
        assert (model, name) in timestamps
    for key, prop in timestamps.items():
        assert prop.get("format") == "date-time", key


def test_error_responses_declare_our_shape_and_no_http_validation_error(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ValidationError" not in document["components"]["schemas"]
    for path, method, operation in _operations(document):
        errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
        assert {"422", "500"} <= set(errors), (path, method)
        for status, declared in errors.items():
            assert declared["content"]["application/json"]["schema"] == {"$ref": OUR_ERROR}, (
                path,
                method,
                status,
            )


def test_real_error_responses_match_what_the_document_declares(
    client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    with session_factory.begin() as session:
        manage = create_api_key(session, ws.id, "manage").key
    document = client.get("/openapi.json").json()
    cases = [
        ("/v1/analytics/accounts", "get", client.get(URL)),
        ("/v1/analytics/accounts", "get", client.get(URL, params={"limit": 0}, headers=bearer(ws.api_key))),
        (
            "/v1/analytics/accounts/{account_id}/history",
            "get",
            client.get(f"{URL}/acc_nope/history", headers=bearer(ws.api_key)),
        ),
        ("/v1/accounts/{account_id}", "get", client.get("/v1/accounts/acc_x", headers=bearer(ws.api_key))),
        ("/v1/accounts", "post", client.post("/v1/accounts", content=b"{", headers=bearer(manage))),
        ("/v1/webhooks/{endpoint_id}", "delete", client.delete("/v1/webhooks/whe_x", headers=bearer(manage))),
        (
            "/v1/webhooks/{endpoint_id}",
            "delete",
            client.delete("/v1/webhooks/whe_%00", headers=bearer(manage)),
        ),
        ("/v1/webhooks", "get", client.get("/v1/webhooks", params={"all": "1"}, headers=bearer(manage))),
        ("/healthz", "get", client.get("/healthz", params={"verbose": "1"})),
    ]
    assert [response.status_code for _, _, response in cases] == [401, 422, 404, 403, 422, 404, 422, 422, 422]
    for path, method, response in cases:
        _assert_declared(document, path, method, response)


def test_an_unknown_query_parameter_is_422_naming_it_with_the_close_known_name(
    client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    # Before, `account_id` was ignored and every row came back.
    misspelt = client.get(URL, params={"account_id": "acc_8f2c1d"}, headers=bearer(ws.api_key))
    assert misspelt.status_code == 422
    assert misspelt.json() == {
        "error": {
            "code": "invalid_parameter",
            "message": "Unknown query parameter 'account_id'; did you mean 'accountId'?",
            "param": "account_id",
        }
    }
    assert (
        client.get(URL, params={"accountId": "acc_8f2c1d"}, headers=bearer(ws.api_key)).json()["total"] == 1
    )
    unrelated = client.get(f"{URL}/acc_8f2c1d/history", params={"page": "2"}, headers=bearer(ws.api_key))
    assert unrelated.status_code == 422
    assert unrelated.json()["error"] == {
        "code": "invalid_parameter",
        "message": "Unknown query parameter 'page'; this route takes since, until, cursor, limit.",
        "param": "page",
    }
    assert client.get("/readyz", params={"x": "1"}).json()["error"]["message"] == (
        "Unknown query parameter 'x'; this route takes no query parameters."
    )
    control = client.get(URL, params={"li\x00mit": "1"}, headers=bearer(ws.api_key)).json()["error"]
    assert control["param"] == "li\\x00mit" and "\x00" not in control["message"]


@pytest.mark.parametrize(
    ("method", "path", "param"),
    [
        ("DELETE", "/v1/webhooks/whe_%00", "endpoint_id"),
        ("DELETE", "/v1/webhooks/whe_%1b[2J", "endpoint_id"),
        ("GET", "/v1/accounts/acc_%00", "account_id"),
        ("DELETE", "/v1/accounts/acc_%0a", "account_id"),
        ("GET", "/v1/analytics/accounts/acc_%00/history", "account_id"),
        ("GET", "/v1/analytics/accounts?accountId=acc_%00", "accountId"),
    ],
)
def test_control_characters_in_ids_are_422_naming_the_parameter(
    client: httpx.Client, session_factory: sessionmaker[Session], method: str, path: str, param: str
) -> None:
    ws = seeding.workspace(session_factory)
    with session_factory.begin() as session:
        manage = create_api_key(session, ws.id, "manage").key
    response = client.request(method, path, headers=bearer(manage))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == param
    assert "control characters" in response.json()["error"]["message"]


def test_a_webhook_url_with_a_control_character_is_422_naming_url(
    client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    with session_factory.begin() as session:
        manage = create_api_key(session, ws.id, "manage").key
    document = client.get("/openapi.json").json()
    url_schema = document["components"]["schemas"]["WebhookCreate"]["properties"]["url"]
    assert url_schema["pattern"] == NO_CONTROL_PATTERN  # a generated client can check it first
    for url in ("https://example.com/\x00", "https://exa\tmple.com/in"):
        response = client.post("/v1/webhooks", json={"url": url}, headers=bearer(manage))
        assert response.status_code == 422, response.text
        assert response.json()["error"]["param"] == "url"


def _two_pages(factory: sessionmaker[Session]) -> seeding.SeededWorkspace:
    ws = seeding.workspace(factory)
    for n in range(3):
        seeding.account(
            factory, ws.id, f"acc_link{n}", "x", created_at=seeding.SEED_TIME + timedelta(seconds=n)
        )
    return ws


def test_the_link_header_never_uses_the_request_host(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: object
) -> None:
    ws = _two_pages(session_factory)
    spoofed = {**bearer(ws.api_key), "Host": "evil.example"}
    # Unset first: make_settings' variables stay set for the rest of the test.
    for public_url, base in ((None, ""), ("https://api.dravo.example/", "https://api.dravo.example")):
        env = {"DRAVO_PUBLIC_URL": public_url} if public_url else {}
        with serve(create_app(make_settings(**env))) as root, httpx.Client(base_url=root) as http:
            page = http.get(URL, params={"limit": 2}, headers=spoofed)
            cursor = page.json()["next_cursor"]
            assert page.headers["link"] == f'<{base}{URL}?limit=2&cursor={cursor}>; rel="next"'
            history = http.get(f"{URL}/acc_link0/history", params={"limit": 1}, headers=spoofed)
            assert history.status_code == 200
            assert "evil.example" not in history.headers.get("link", "")


def test_cors_preflight_allows_the_configured_origins_only(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: object
) -> None:
    ws = _two_pages(session_factory)
    jwt = seeding.dashboard_jwt(ws.id)
    settings = make_settings(DRAVO_CORS_ORIGINS=f"{DASHBOARD}/, http://localhost:5173")
    assert settings.cors_origins == (DASHBOARD, "http://localhost:5173")
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    with serve(create_app(settings)) as root, httpx.Client(base_url=root) as http:
        allowed = http.options(URL, headers={**preflight, "Origin": DASHBOARD})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == DASHBOARD
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "GET" in allowed.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in allowed.headers

        refused = http.options(URL, headers={**preflight, "Origin": "https://evil.example"})
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
        assert refused.json()["error"] == {
            "code": "cors_refused",
            "message": "CORS preflight refused: origin not allowed.",
        }

        read = http.get(URL, headers={**bearer(jwt), "Origin": DASHBOARD}, params={"limit": 1})
        assert read.status_code == 200
        assert read.headers["access-control-allow-origin"] == DASHBOARD
        assert "link" in read.headers["access-control-expose-headers"].lower()
        other = http.get(URL, headers={**bearer(jwt), "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_without_cors_origins_there_are_no_cors_headers(
    client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    preflight = {"Origin": DASHBOARD, "Access-Control-Request-Method": "GET"}
    answer = client.options(URL, headers=preflight)
    assert "access-control-allow-origin" not in answer.headers
    assert answer.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "value", ["*", "dashboard.example.com", "https://d.example.com/app", "ftp://d.example"]
)
def test_cors_origins_must_be_origins(make_settings: SettingsFactory, value: str) -> None:
    with pytest.raises(ConfigurationError):
        make_settings(DRAVO_CORS_ORIGINS=value)


@pytest.mark.parametrize("value", ["api.example.com", "https://api.example.com/?x=1", "javascript:alert(1)"])
def test_public_url_must_be_an_http_url(make_settings: SettingsFactory, value: str) -> None:
    with pytest.raises(ConfigurationError):
        make_settings(DRAVO_PUBLIC_URL=value)
