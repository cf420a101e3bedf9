"""The history endpoint pages with a cursor beyond 1000 snapshots (docs/api.md)."""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.api import seeding
from tests.integration.api.conftest import bearer

URL = "/v1/analytics/accounts/acc_deep/history"
COUNT = 2500


@pytest.fixture
def deep(session_factory: sessionmaker[Session]) -> seeding.SeededWorkspace:
    ws = seeding.workspace(session_factory)
    seeding.account(session_factory, ws.id, "acc_deep", "x", created_at=seeding.SEED_TIME)
    with session_factory.begin() as session:
        # Two snapshots share each second, so the id breaks ties in the page order.
        session.execute(
            text(
                "INSERT INTO metric_snapshots (account_id, captured_at, sync_status, metrics)"
                " SELECT 'acc_deep', :t + (i / 2) * interval '1 second', 'synced',"
                " jsonb_build_object('followers_count', i)"
                " FROM generate_series(0, :n - 1) AS i"
            ),
            {"t": seeding.SEED_TIME, "n": COUNT},
        )
    return ws


def test_pages_reach_every_snapshot_once_in_order(
    client: httpx.Client, deep: seeding.SeededWorkspace
) -> None:
    seen: list[int] = []
    params: dict[str, str] = {}
    pages = 0
    while True:
        response = client.get(URL, params=params, headers=bearer(deep.api_key))
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert body["total"] == len(body["items"]) <= 1000
        seen += [item["metrics"]["followers_count"] for item in body["items"]]
        if body["next_cursor"] is None:
            assert "link" not in response.headers
            break
        assert response.headers["link"].endswith('>; rel="next"')
        assert f"cursor={body['next_cursor']}" in response.headers["link"]
        params = {"cursor": body["next_cursor"]}
    assert pages == 3
    assert seen == list(range(COUNT))


def test_cursor_with_a_range_and_a_page_size(client: httpx.Client, deep: seeding.SeededWorkspace) -> None:
    since = "2026-06-29T09:05:00Z"  # 300 s after the first: the 600th snapshot on
    first = client.get(URL, params={"since": since, "limit": 7}, headers=bearer(deep.api_key)).json()
    assert [i["metrics"]["followers_count"] for i in first["items"]] == list(range(600, 607))
    second = client.get(
        URL, params={"since": since, "limit": 7, "cursor": first["next_cursor"]}, headers=bearer(deep.api_key)
    ).json()
    assert [i["metrics"]["followers_count"] for i in second["items"]] == list(range(607, 614))


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!!",
        _b64("2026-06-29T09:00:00+00:00"),
        _b64("2026-06-29T09:00:00|12"),  # no time zone
        _b64("2026-06-29T09:00:00+00:00|-1"),
        _b64("2026-06-29T09:00:00+00:00|1e3"),
        _b64("yesterday|3"),
        _b64("2026-06-29T09:00:00+00:00|99999999999999999999"),  # past bigint
        _b64("2026-06-29T09:00:00+00:00|0"),
        "x" * 300,
    ],
)
def test_a_bad_cursor_is_422_naming_cursor(
    client: httpx.Client, deep: seeding.SeededWorkspace, cursor: str
) -> None:
    response = client.get(URL, params={"cursor": cursor}, headers=bearer(deep.api_key))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == "cursor"


def test_another_workspace_learns_nothing_from_a_cursor(
    client: httpx.Client, deep: seeding.SeededWorkspace, session_factory: sessionmaker[Session]
) -> None:
    cursor = client.get(URL, params={"limit": 1}, headers=bearer(deep.api_key)).json()["next_cursor"]
    theirs = seeding.workspace(session_factory, "theirs")
    response = client.get(URL, params={"cursor": cursor}, headers=bearer(theirs.api_key))
    assert response.status_code == 404


def test_a_cursor_at_the_edges_of_time_is_no_server_error(
    client: httpx.Client, deep: seeding.SeededWorkspace
) -> None:
    for at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        response = client.get(URL, params={"cursor": _b64(f"{at}|1")}, headers=bearer(deep.api_key))
        assert response.status_code in (200, 422), response.text
