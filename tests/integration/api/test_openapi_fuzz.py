"""Hypothesis against the OpenAPI document: whatever a client sends, the answer is documented.

Parameters are drawn from the document itself (valid values from each schema, plus arbitrary
text); every response must have a documented status, never 500, and a body valid against the
schema the document gives for that status.
"""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.api import seeding
from tests.integration.api.conftest import bearer

ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
TIMES = st.datetimes(timezones=st.timezones() | st.none()).map(lambda t: t.isoformat())


def _value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for a parameter schema, as FastAPI documents them."""
    options = schema.get("anyOf", [schema])
    strategies: list[st.SearchStrategy[Any]] = []
    for option in options:
        kind = option.get("type")
        if "enum" in option:
            strategies.append(st.sampled_from(option["enum"]))
        elif kind == "integer":
            strategies.append(st.integers(option.get("minimum", -(2**63)), option.get("maximum", 2**63)))
        elif kind == "boolean":
            strategies.append(st.sampled_from(["true", "false", "1", "0"]))
        elif kind == "string" and option.get("format") == "date-time":
            strategies.append(TIMES)
        elif kind == "string":
            strategies.append(st.sampled_from(["acc_8f2c1d", "acc_4b9e07"]) | ANY_TEXT)
    return st.one_of(strategies) if strategies else ANY_TEXT


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, ops["get"]) for path, ops in document["paths"].items() if "get" in ops]


@st.composite
def requests(
    draw: st.DrawFn, document: dict[str, Any], tokens: list[str]
) -> tuple[str, dict[str, str], dict[str, str], dict[str, Any]]:
    path, operation = draw(st.sampled_from(_operations(document)))
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        value = draw(_value(parameter["schema"]) | ANY_TEXT) if where == "query" else None
        if where == "path":
            # "", "." and ".." would change the path itself rather than fill the parameter.
            value = draw(
                _value(parameter["schema"]).map(lambda v: v if v not in ("", ".", "..") else "acc_x")
            )
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        elif draw(st.booleans()):
            query[name] = str(value)
    if draw(st.booleans()):
        query[draw(ANY_TEXT)] = draw(ANY_TEXT)  # unknown parameters are ignored
    headers: dict[str, str] = {}
    if "security" in operation:
        # Mostly valid credentials, so the parameters reach the handlers.
        garbage = draw(st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=60))
        headers = draw(
            st.sampled_from(
                [
                    *(bearer(token) for token in tokens for _ in range(4)),
                    bearer(garbage),
                    {"Authorization": garbage},
                    {},
                ]
            )
        )
    return path, query, headers, operation


@pytest.fixture
def document(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_openapi_document(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "dra_… API key or HS256 JWT",
        "description": "A Dravo API key (`dra_…`) or a dashboard JWT (HS256, claims `workspace_id` and `exp`).",
    }
    listing = document["paths"]["/v1/analytics/accounts"]["get"]
    assert [p["name"] for p in listing["parameters"]] == [
        "accountId",
        "platform",
        "refresh",
        "limit",
        "cursor",
    ]
    assert set(listing["responses"]) == {"200", "401", "413", "422", "429", "431", "500", "503"}
    for status in ("401", "422", "429", "431", "500", "503"):
        assert listing["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
    assert set(document["paths"]) == {
        "/v1/analytics/accounts",
        "/v1/analytics/accounts/{account_id}/history",
        "/v1/accounts",
        "/v1/accounts/{account_id}",
        "/v1/webhooks",
        "/v1/webhooks/{endpoint_id}",
        "/healthz",
        "/readyz",
    }


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_undocumented_response(
    client: httpx.Client,
    document: dict[str, Any],
    fuzz_tokens: list[str],
    data: st.DataObject,
) -> None:
    path, query, headers, operation = data.draw(requests(document, fuzz_tokens))
    response = client.get(path, params=query, headers=headers)
    status = str(response.status_code)
    event(f"{operation['operationId']} {status}")
    assert response.status_code < 500 or status == "503", (path, query, response.text)
    assert status in operation["responses"], (path, query, status, response.text)
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": document["components"]})
    errors = sorted(validator.iter_errors(response.json()), key=str)
    assert not errors, (path, query, [e.message for e in errors])


@pytest.fixture
def fuzz_tokens(session_factory: sessionmaker[Session]) -> list[str]:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    seeding.snapshot(session_factory, "acc_8f2c1d", seeding.SEED_TIME, {"followers_count": 1})
    return [ws.api_key, seeding.dashboard_jwt(ws.id)]
