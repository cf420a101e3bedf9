"""Cursor paging of GET /v1/analytics/accounts: past 100 rows, stable under inserts, a seek."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from models.cursor import decode_cursor, encode_cursor
from models.queries import account_page_statement
from models.read_models import AccountFilter
from models.tables import Account, AccountSync
from tests.integration.api import seeding
from tests.integration.api.conftest import bearer

URL = "/v1/analytics/accounts"
SEED_FIELDS = [
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


def _bulk(factory: sessionmaker[Session], workspace_id: str, count: int, start: int = 0) -> list[str]:
    """`count` synced accounts, one per second of creation time, cycling over three platforms."""
    platforms = ("x", "facebook", "tiktok")
    ids = [f"acc_{workspace_id[-6:]}_{n:05d}" for n in range(start, start + count)]
    with factory.begin() as session:
        session.execute(
            insert(Account),
            [
                {
                    "id": account_id,
                    "workspace_id": workspace_id,
                    "platform": platforms[n % 3],
                    "platform_account_id": f"native-{n}",
                    "auth": "default",
                    "credentials": b"not-a-real-token",
                    "created_at": seeding.SEED_TIME + timedelta(seconds=n),
                    "connected_at": seeding.SEED_TIME + timedelta(seconds=n),
                }
                for n, account_id in zip(range(start, start + count), ids, strict=True)
            ],
        )
        session.execute(
            insert(AccountSync),
            [
                {
                    "account_id": account_id,
                    "platform": platforms[n % 3],
                    "metrics": {"followers_count": n},
                    "sync_status": "synced",
                    "last_updated_at": seeding.SEED_TIME,
                    "stale_after": seeding.SEED_TIME + timedelta(hours=6),
                }
                for n, account_id in zip(range(start, start + count), ids, strict=True)
            ],
        )
    return ids


def _walk(client: httpx.Client, key: str, **params: Any) -> tuple[list[str], list[httpx.Response]]:
    seen: list[str] = []
    responses = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(URL, params=query, headers=bearer(key))
        assert response.status_code == 200, response.text
        responses.append(response)
        body = response.json()
        seen += [item["account_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in response.headers
            return seen, responses
        assert len(responses) < 100


@pytest.fixture
def ws(session_factory: sessionmaker[Session]) -> seeding.SeededWorkspace:
    return seeding.workspace(session_factory)


def test_pages_past_100(
    client: httpx.Client, ws: seeding.SeededWorkspace, session_factory: sessionmaker[Session]
) -> None:
    ids = _bulk(session_factory, ws.id, 250)
    seen, responses = _walk(client, ws.api_key)
    assert seen == ids
    assert [r.json()["total"] for r in responses] == [100, 100, 50]
    first = responses[0]
    body = first.json()
    # The seed's body and rows, unchanged; the cursor comes after them.
    assert list(body) == ["items", "total", "next_cursor"]
    assert all(list(item) == SEED_FIELDS for r in responses for item in r.json()["items"])
    # PostgreSQL writes the same cursor Python does: the last row's position.
    assert body["next_cursor"] == encode_cursor(seeding.SEED_TIME + timedelta(seconds=99), ids[99])
    assert decode_cursor(body["next_cursor"]) == (seeding.SEED_TIME + timedelta(seconds=99), ids[99])
    link = first.headers["link"]
    # Relative to the request without DRAVO_PUBLIC_URL (test_openapi_and_params.py has both cases).
    next_url = first.url.copy_set_param("cursor", body["next_cursor"])
    assert link == f'<{next_url.raw_path.decode()}>; rel="next"'
    assert client.get(link[1 : link.index(">")], headers=bearer(ws.api_key)).json() == responses[1].json()


def test_a_full_last_page_has_no_cursor(
    client: httpx.Client, ws: seeding.SeededWorkspace, session_factory: sessionmaker[Session]
) -> None:
    ids = _bulk(session_factory, ws.id, 20)
    seen, responses = _walk(client, ws.api_key, limit=10)
    assert seen == ids and len(responses) == 2
    assert _walk(client, ws.api_key, limit=20)[1][0].json()["next_cursor"] is None


def test_filters_keep_paging(
    client: httpx.Client, ws: seeding.SeededWorkspace, session_factory: sessionmaker[Session]
) -> None:
    ids = _bulk(session_factory, ws.id, 90)
    seen, _ = _walk(client, ws.api_key, platform="facebook", limit=7)
    assert seen == ids[1::3]
    seen, _ = _walk(client, ws.api_key, accountId=ids[5], limit=1)
    assert seen == [ids[5]]


def test_stable_under_inserts(
    client: httpx.Client, ws: seeding.SeededWorkspace, session_factory: sessionmaker[Session]
) -> None:
    ids = _bulk(session_factory, ws.id, 120)
    first = client.get(URL, params={"limit": 50}, headers=bearer(ws.api_key)).json()
    # Accounts connected while the client pages are created now: after every row paged so far.
    later = _bulk(session_factory, ws.id, 30, start=100_000)
    with session_factory.begin() as session:
        session.execute(text("UPDATE accounts SET created_at = now() WHERE id = ANY(:ids)"), {"ids": later})
    seen = [item["account_id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        body = client.get(URL, params={"limit": 50, "cursor": cursor}, headers=bearer(ws.api_key)).json()
        seen += [item["account_id"] for item in body["items"]]
        cursor = body["next_cursor"]
    assert seen == ids + later


def test_refresh_pages_too(
    client: httpx.Client, ws: seeding.SeededWorkspace, session_factory: sessionmaker[Session]
) -> None:
    _bulk(session_factory, ws.id, 15)
    plain = client.get(URL, params={"limit": 10}, headers=bearer(ws.api_key))
    refreshed = client.get(URL, params={"limit": 10, "refresh": "true"}, headers=bearer(ws.api_key))
    assert refreshed.status_code == 200
    assert refreshed.json()["next_cursor"] == plain.json()["next_cursor"] is not None
    assert 'rel="next"' in refreshed.headers["link"]
    cursor = plain.json()["next_cursor"]
    rest = client.get(
        URL, params={"limit": 10, "refresh": "true", "cursor": cursor}, headers=bearer(ws.api_key)
    )
    assert rest.json()["total"] == 5 and rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "abc",
        "!!!",
        "2.0.acc_x",
        "1.soon.acc_x",
        "1.10.",
        "1.-5.acc_x",
        "1.999999999999999999.acc_x",
        "1.0.acc\x00",
        "1.0.acc x",
        "1.0.acc_" + "x" * 40,
        "MTo1OmFjY194",  # base64 of a cursor is not a cursor
        "A" * 500,
    ],
)
def test_bad_cursor_is_422(client: httpx.Client, ws: seeding.SeededWorkspace, cursor: str) -> None:
    for refresh in ("false", "true"):
        response = client.get(URL, params={"cursor": cursor, "refresh": refresh}, headers=bearer(ws.api_key))
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["error"]["param"] == "cursor"


def test_another_workspaces_cursor_shows_nothing_of_it(
    client: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    a = seeding.workspace(session_factory, "a")
    b = seeding.workspace(session_factory, "b")
    _bulk(session_factory, a.id, 5)
    of_b = _bulk(session_factory, b.id, 5)
    cursor = client.get(URL, params={"limit": 2}, headers=bearer(a.api_key)).json()["next_cursor"]
    body = client.get(URL, params={"cursor": cursor}, headers=bearer(b.api_key)).json()
    assert {item["account_id"] for item in body["items"]} <= set(of_b)


def test_the_cursor_is_an_index_seek(
    engine: Any, session_factory: sessionmaker[Session], ws: seeding.SeededWorkspace
) -> None:
    ids = _bulk(session_factory, ws.id, 50)
    where = AccountFilter(limit=10, after=(seeding.SEED_TIME + timedelta(seconds=20), ids[20]))
    statement = account_page_statement(ws.id, where)
    assert statement is not None
    with engine.connect() as connection:
        # Small tables are scanned whole; what matters is that the seek can be an index condition.
        connection.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(row[0] for row in connection.execute(text("EXPLAIN " + statement[0]), statement[1]))
    assert "ix_accounts_workspace_created" in plan, plan
    conditions = [line.strip() for line in plan.splitlines() if line.strip().startswith("Index Cond:")]
    assert any("workspace_id" in c and "ROW(created_at" in c for c in conditions), plan
    assert "OFFSET" not in statement[0].upper()
