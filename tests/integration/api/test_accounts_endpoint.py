"""GET /v1/analytics/accounts in process: shape, filters, parameters, errors."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.tables import ApiKey
from tests.integration.api import seeding
from tests.integration.api.conftest import bearer

URL = "/v1/analytics/accounts"


@pytest.fixture
def ws(session_factory: sessionmaker[Session]) -> seeding.SeededWorkspace:
    workspace = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, workspace.id)
    return workspace


def test_seed_example(client: httpx.Client, ws: seeding.SeededWorkspace) -> None:
    response = client.get(URL, headers=bearer(ws.api_key))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["total"] == 2
    assert [item["account_id"] for item in body["items"]] == ["acc_8f2c1d", "acc_4b9e07"]
    assert list(body["items"][0]) == [
        "account_id",
        "platform",
        "handle",
        "platform_account_id",
        "metrics",
        "warnings",
        "sync_status",
        "error_message",
        "last_updated_at",
        "stale_after",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["acc_8f2c1d", "acc_4b9e07"]),
        ("?platform=x", ["acc_8f2c1d"]),
        ("?platform=facebook", ["acc_4b9e07"]),
        ("?platform=tiktok", []),
        ("?accountId=acc_4b9e07", ["acc_4b9e07"]),
        ("?accountId=acc_4b9e07&platform=x", []),
        ("?accountId=acc_nope", []),
        ("?accountId=", []),
        ("?limit=1", ["acc_8f2c1d"]),
        ("?limit=100", ["acc_8f2c1d", "acc_4b9e07"]),
        ("?refresh=false&limit=2", ["acc_8f2c1d", "acc_4b9e07"]),
    ],
)
def test_filters(client: httpx.Client, ws: seeding.SeededWorkspace, query: str, expected: list[str]) -> None:
    body = client.get(URL + query, headers=bearer(ws.api_key)).json()
    assert [item["account_id"] for item in body["items"]] == expected
    assert body["total"] == len(expected)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("platform=myspace", "platform"),
        ("platform=X", "platform"),
        ("platform=", "platform"),
        ("refresh=maybe", "refresh"),
        ("refresh=", "refresh"),
        # Unknown parameters are refused by name, not ignored (docs/api.md, "Unknown parameters").
        ("unknown=1", "unknown"),
        ("accountid=acc_4b9e07", "accountid"),
        ("PLATFORM=x", "PLATFORM"),
    ],
)
def test_bad_parameters(client: httpx.Client, ws: seeding.SeededWorkspace, query: str, param: str) -> None:
    response = client.get(f"{URL}?{query}", headers=bearer(ws.api_key))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert error["param"] == param
    assert param in error["message"]
    assert set(error) == {"code", "message", "param"}


def test_unauthenticated_bad_parameters_are_401(client: httpx.Client) -> None:
    assert client.get(f"{URL}?limit=0").status_code == 401
    assert client.get(f"{URL}?account_id=acc_4b9e07").status_code == 401


def test_pending_failed_and_reconnect_rows(
    client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    t = seeding.SEED_TIME
    seeding.account(
        session_factory,
        ws.id,
        "acc_1",
        "linkedin",
        created_at=t,
        sync_status="pending",
        metrics={"follower_statistics_member_followers_count": 3},
    )
    seeding.account(
        session_factory,
        ws.id,
        "acc_2",
        "tiktok",
        created_at=t + timedelta(seconds=1),
        sync_status="failed",
        error_message="TikTok did not answer in time.",
        metrics={"follower_count": 7},
    )
    seeding.account(
        session_factory,
        ws.id,
        "acc_3",
        "instagram",
        created_at=t + timedelta(seconds=2),
        sync_status="requires_reconnect",
        error_message="Instagram access was revoked; reconnect the account.",
        metrics={"follower_count": 9},
    )
    items = client.get(URL, headers=bearer(ws.api_key)).json()["items"]
    assert (
        items[0]["metrics"] == {} and items[0]["last_updated_at"] is None and items[0]["stale_after"] is None
    )
    assert items[1]["metrics"] == {"follower_count": 7}
    assert items[1]["error_message"] == "TikTok did not answer in time."
    assert items[2]["sync_status"] == "requires_reconnect" and items[2]["metrics"] == {"follower_count": 9}


def test_unknown_route_and_method_use_error_shape(client: httpx.Client, ws: seeding.SeededWorkspace) -> None:
    missing = client.get("/v1/analytics/nothing", headers=bearer(ws.api_key))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = client.post(URL, headers=bearer(ws.api_key))
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_key_use_recorded_without_a_write_per_request(
    client: httpx.Client, ws: seeding.SeededWorkspace, session_factory: sessionmaker[Session]
) -> None:
    seen = []
    for _ in range(3):
        assert client.get(URL, headers=bearer(ws.api_key)).status_code == 200
        with session_factory() as session:
            seen.append(session.query(ApiKey.last_used_at).filter(ApiKey.workspace_id == ws.id).scalar())
    assert seen[0] is not None
    assert seen[0] == seen[1] == seen[2]


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}


def test_history(client: httpx.Client, session_factory: sessionmaker[Session]) -> None:
    ours = seeding.workspace(session_factory, "ours")
    theirs = seeding.workspace(session_factory, "theirs")
    t = seeding.SEED_TIME
    seeding.account(session_factory, ours.id, "acc_h", "x", created_at=t)
    for day in range(3):
        seeding.snapshot(session_factory, "acc_h", t + timedelta(days=day), {"followers_count": 10 + day})
    url = "/v1/analytics/accounts/acc_h/history"
    body = client.get(url, headers=bearer(ours.api_key)).json()
    assert body["total"] == 3
    assert body["items"][0] == {
        "captured_at": "2026-06-29T09:00:00Z",
        "sync_status": "synced",
        "metrics": {"followers_count": 10},
    }
    ranged = client.get(
        url,
        params={"since": "2026-06-30T00:00:00Z", "until": "2026-07-01T09:00:00+00:00"},
        headers=bearer(ours.api_key),
    ).json()
    assert [i["metrics"]["followers_count"] for i in ranged["items"]] == [11, 12]
    naive = client.get(url, params={"since": "2026-07-01T09:00:00"}, headers=bearer(ours.api_key)).json()
    assert naive["total"] == 1
    for other in (theirs.api_key,):
        response = client.get(url, headers=bearer(other))
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert (
        client.get("/v1/analytics/accounts/acc_zzz/history", headers=bearer(ours.api_key)).status_code == 404
    )
    assert client.get(url).status_code == 401
    bad = client.get(url, params={"since": "yesterday"}, headers=bearer(ours.api_key))
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "since"
    edge = client.get(url, params={"since": "0001-01-01T00:00:00+14:00"}, headers=bearer(ours.api_key))
    assert edge.status_code == 422 and edge.json()["error"]["param"] == "since"


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday"])
def test_history_times_are_iso_8601_only(
    client: httpx.Client, session_factory: sessionmaker[Session], value: str
) -> None:
    ws = seeding.workspace(session_factory)
    x, _ = seeding.seed_example(session_factory, ws.id)
    response = client.get(
        f"/v1/analytics/accounts/{x}/history", params={"until": value}, headers=bearer(ws.api_key)
    )
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "until"
