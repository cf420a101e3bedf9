"""The read-only query module on a real Postgres."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import InternalError
from sqlalchemy.orm import Session, sessionmaker

from models.auth import record_key_use, resolve_bearer
from models.db import make_read_only_session_factory
from models.queries import account_page_json, get_account_row, list_account_rows, list_snapshots
from models.read_models import AccountFilter
from models.tables import ApiKey
from tests.integration.api import seeding

NOW = seeding.SEED_TIME + timedelta(hours=1)


@pytest.fixture
def read_only(engine: Engine, session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return make_read_only_session_factory(engine)


def test_seed_rows_in_creation_order(
    session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, ws.id)
    with read_only() as session:
        rows = list_account_rows(session, ws.id, AccountFilter(), now=NOW)
    assert [row.to_json() for row in rows] == [
        {
            "account_id": "acc_8f2c1d",
            "platform": "x",
            "handle": "@dravo",
            "platform_account_id": "1234567890",
            "metrics": seeding.SEED_X_METRICS,
            "warnings": [],
            "sync_status": "synced",
            "error_message": None,
            "last_updated_at": "2026-06-29T09:00:00Z",
            "stale_after": "2026-06-29T15:00:00Z",
        },
        {
            "account_id": "acc_4b9e07",
            "platform": "facebook",
            "handle": "Dravo",
            "platform_account_id": "1122334455",
            "metrics": seeding.SEED_FACEBOOK_METRICS,
            "warnings": [seeding.FACEBOOK_WARNING],
            "sync_status": "partial",
            "error_message": None,
            "last_updated_at": "2026-06-29T09:00:00Z",
            "stale_after": "2026-06-29T15:00:00Z",
        },
    ]


def test_one_query_whatever_the_row_count(
    engine: Engine, session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(30):
        seeding.account(
            session_factory, ws.id, f"acc_{i:04d}", "tiktok", created_at=start + timedelta(minutes=i)
        )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        with read_only() as session:
            rows = list_account_rows(session, ws.id, AccountFilter(limit=25), now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(rows) == 25
    assert [r.account_id for r in rows] == [f"acc_{i:04d}" for i in range(25)]
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_pending_hides_old_metrics_and_times(
    session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.account(
        session_factory,
        ws.id,
        "acc_pending",
        "instagram",
        created_at=NOW,
        metrics={"follower_count": 5},
        sync_status="pending",
    )
    seeding.account(session_factory, ws.id, "acc_nosync", "instagram", created_at=NOW, with_sync_row=False)
    with read_only() as session:
        rows = list_account_rows(session, ws.id, AccountFilter(), now=NOW)
    for row in rows:
        data = row.to_json()
        assert data["sync_status"] == "pending"
        assert data["metrics"] == {}
        assert data["last_updated_at"] is None and data["stale_after"] is None


def test_only_integer_metrics_and_string_warnings(
    session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    seeding.account(
        session_factory,
        ws.id,
        "acc_mixed",
        "x",
        created_at=NOW,
        metrics={"followers_count": 3, "ratio": 1.5, "name": "x", "flag": True, "gone": None, "big": 2**40},
        warnings=["ok", 3, None],
    )
    with read_only() as session:
        row = list_account_rows(session, ws.id, AccountFilter(), now=NOW)[0]
    assert row.to_json()["metrics"] == {"followers_count": 3, "big": 2**40}
    assert row.to_json()["warnings"] == ["ok"]


@pytest.mark.parametrize(
    ("stale_after", "shown"),
    [(NOW + timedelta(minutes=1), False), (NOW, True), (NOW - timedelta(minutes=1), True)],
)
def test_deferred_note_only_while_stale(
    session_factory: sessionmaker[Session],
    read_only: sessionmaker[Session],
    stale_after: datetime,
    shown: bool,
) -> None:
    ws = seeding.workspace(session_factory)
    note = "X rate limit reached; next attempt after 2026-06-29T10:15:00Z."
    seeding.account(
        session_factory,
        ws.id,
        "acc_limited",
        "x",
        created_at=NOW,
        metrics={"followers_count": 1},
        warnings=["w"],
        stale_after=stale_after,
        deferred_note=note,
    )
    with read_only() as session:
        warnings = list_account_rows(session, ws.id, AccountFilter(), now=NOW)[0].to_json()["warnings"]
    assert warnings == (["w", note] if shown else ["w"])


def test_filters_limit_and_scoping(
    session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    ours = seeding.workspace(session_factory, "ours")
    theirs = seeding.workspace(session_factory, "theirs")
    seeding.seed_example(session_factory, ours.id)
    seeding.account(session_factory, theirs.id, "acc_theirs", "x", created_at=NOW)
    with read_only() as session:

        def ids(**kw: object) -> list[str]:
            return [r.account_id for r in list_account_rows(session, ours.id, AccountFilter(**kw), now=NOW)]  # type: ignore[arg-type]

        assert ids(platform="x") == ["acc_8f2c1d"]
        assert ids(platform="tiktok") == []
        assert ids(account_id="acc_4b9e07") == ["acc_4b9e07"]
        assert ids(account_id="acc_4b9e07", platform="x") == []
        assert ids(account_id="acc_theirs") == []
        assert ids(account_id="acc_\x00") == []
        assert ids(limit=1) == ["acc_8f2c1d"]
        assert get_account_row(session, "acc_theirs") is not None


def test_snapshots_in_range_and_scoped(
    session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    ours = seeding.workspace(session_factory, "ours")
    theirs = seeding.workspace(session_factory, "theirs")
    seeding.account(session_factory, ours.id, "acc_a", "x", created_at=NOW)
    for day in range(5):
        seeding.snapshot(
            session_factory, "acc_a", NOW + timedelta(days=day), {"followers_count": day, "f": 0.5}
        )
    with read_only() as session:
        rows = list_snapshots(
            session, ours.id, "acc_a", since=NOW + timedelta(days=1), until=NOW + timedelta(days=3)
        )
        assert rows is not None
        assert [r.metrics for r in rows] == [{"followers_count": d} for d in (1, 2, 3)]
        assert list_snapshots(session, theirs.id, "acc_a") is None
        assert list_snapshots(session, ours.id, "acc_unknown") is None


def test_resolve_key_and_jwt(
    session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    with read_only() as session:
        principal = resolve_bearer(session, ws.api_key, None)
        assert principal is not None and principal.workspace_id == ws.id and principal.kind == "api_key"
        assert (
            resolve_bearer(session, ws.api_key[:-1] + ("A" if ws.api_key[-1] != "A" else "B"), None) is None
        )
        token = seeding.dashboard_jwt(ws.id)
        assert resolve_bearer(session, token, None) is None  # no secret configured: JWTs refused
        jwt_principal = resolve_bearer(session, token, seeding.JWT_SECRET)
        assert jwt_principal is not None and jwt_principal.workspace_id == ws.id
        assert resolve_bearer(session, seeding.dashboard_jwt("ws_unknown"), seeding.JWT_SECRET) is None


def test_read_only_session_refuses_writes(
    session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    ws = seeding.workspace(session_factory)
    with read_only() as session:
        principal = resolve_bearer(session, ws.api_key, None)
        assert principal is not None and principal.api_key_id is not None
        with pytest.raises(InternalError, match="read-only"):
            record_key_use(session, principal.api_key_id, NOW)


def test_key_use_recorded_at_most_once_a_minute(session_factory: sessionmaker[Session]) -> None:
    ws = seeding.workspace(session_factory)
    with session_factory.begin() as session:
        key_id = session.query(ApiKey.id).filter(ApiKey.workspace_id == ws.id).scalar()
    assert key_id is not None
    results = []
    for offset in (0, 10, 59, 61):
        with session_factory.begin() as session:
            results.append(record_key_use(session, key_id, NOW + timedelta(seconds=offset)))
    assert results == [True, False, False, True]


def test_metric_values_and_key_order_as_json_readers_see_them(
    session_factory: sessionmaker[Session], read_only: sessionmaker[Session]
) -> None:
    """Integers only, by the value JSON readers get (`1e3` is 1000, `1.0` is a float), published
    keys first, then the others by code point; strings escaped exactly as json.dumps does."""
    ws = seeding.workspace(session_factory)
    tricky = 'q"b\\s/\n\t\x01\x7f é😀\u2028'
    seeding.account(
        session_factory,
        ws.id,
        "acc_order",
        "x",
        created_at=NOW,
        handle=tricky,
        metrics={
            "zeta": 1,
            "like_count": 2,
            "Alpha": 3,
            "followers_count": 4,
            "é": 5,
            "a": 1.0,
            "b": 2.5,
            "c": 10**30,
        },
        warnings=[tricky],
        error_message=tricky,
    )
    with session_factory.begin() as session:
        session.execute(text("UPDATE account_sync SET metrics = metrics || '{\"e3\": 1e3}'::jsonb"))
    with read_only() as session:
        row = list_account_rows(session, ws.id, AccountFilter(), now=NOW)[0]
        page = account_page_json(session, ws.id, AccountFilter(), now=NOW)
    assert list(row.metrics.items()) == [
        ("followers_count", 4),
        ("like_count", 2),
        ("Alpha", 3),
        ("c", 10**30),
        ("e3", 1000),
        ("zeta", 1),
        ("é", 5),
    ]
    assert row.handle == tricky and row.warnings == (tricky,) and row.error_message == tricky
    expected = {"items": [row.to_json()], "total": 1, "next_cursor": None}
    assert page == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
