"""The SQL of the account page and the plain-Python row rules (models.row_rules) agree.

Generated accounts and sync rows, stored in a real PostgreSQL, read through the API's statement
(`account_page_json`) and, read back raw, through `api_row`: the same rows, field for field and
in the same key order.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from models.queries import account_page_json
from models.read_models import METRIC_ORDER, AccountFilter
from models.row_rules import StoredAccount, StoredSync, api_row
from models.tables import PLATFORM_VALUES, SYNC_STATUS_VALUES
from tests.integration.api import seeding

# PostgreSQL text and jsonb strings can't hold NUL; surrogates are not text at all.
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=6)
TIMES = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
PUBLISHED_KEYS = sorted({key for keys in METRIC_ORDER.values() for key in keys})

# JSON number spellings whose integer-ness only the digits after the point decide.
NUMBER_TEXT = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e3", "1.0", "-0", "2E+2", "0.5e1", "1.50e1", "12.000", "7e-1"]),
)
JSON_VALUE_TEXT = st.one_of(
    NUMBER_TEXT,
    TEXT.map(json.dumps),
    st.sampled_from(["true", "false", "null", "[]", "{}", "[1]"]),
)


def _object_text(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in pairs) + "}"


METRICS_TEXT = st.one_of(
    st.lists(st.tuples(st.one_of(st.sampled_from(PUBLISHED_KEYS), TEXT), JSON_VALUE_TEXT), max_size=8).map(
        _object_text
    ),
    st.sampled_from(["[]", "3", '"x"', "null", "[1, 2]"]),
)
WARNINGS_TEXT = st.one_of(
    st.lists(st.one_of(TEXT.map(json.dumps), NUMBER_TEXT, st.just("null")), max_size=4).map(
        lambda items: "[" + ",".join(items) + "]"
    ),
    st.sampled_from(['{"a": "b"}', '"x"', "null", "1"]),
)


@st.composite
def stored_rows(draw: st.DrawFn, now: datetime) -> dict[str, Any]:
    warnings = draw(WARNINGS_TEXT)
    listed = json.loads(warnings) if warnings.startswith("[") else []
    note_choices = st.one_of(st.none(), st.just(""), TEXT)
    if any(isinstance(item, str) for item in listed):
        note_choices = st.one_of(note_choices, st.sampled_from([i for i in listed if isinstance(i, str)]))
    return {
        "platform": draw(st.sampled_from(PLATFORM_VALUES)),
        "handle": draw(st.one_of(st.none(), TEXT)),
        "platform_account_id": draw(TEXT),
        "with_sync_row": draw(st.booleans()),
        "sync_status": draw(st.sampled_from(SYNC_STATUS_VALUES)),
        "metrics": draw(METRICS_TEXT),
        "warnings": warnings,
        "error_message": draw(st.one_of(st.none(), TEXT)),
        "last_updated_at": draw(st.one_of(st.none(), TIMES)),
        # `now` itself too: a row is stale from the moment stale_after says.
        "stale_after": draw(st.one_of(st.none(), TIMES, st.just(now))),
        "deferred_note": draw(note_choices),
    }


def _store(session: Session, workspace_id: str, index: int, row: dict[str, Any]) -> None:
    account_id = f"acc_rules_{index:02d}"
    session.execute(
        text(
            "INSERT INTO accounts (id, workspace_id, platform, platform_account_id, handle, auth,"
            " credentials, created_at, connected_at) VALUES (:id, :ws, :platform, :pai, :handle,"
            " 'default', 'x', :created, :created)"
        ),
        {
            "id": account_id,
            "ws": workspace_id,
            "platform": row["platform"],
            "pai": f"{row['platform_account_id']}#{index}",  # unique per platform
            "handle": row["handle"],
            "created": datetime(2026, 1, 1, 0, index, tzinfo=UTC),
        },
    )
    if row["with_sync_row"]:
        session.execute(
            text(
                "INSERT INTO account_sync (account_id, platform, metrics, warnings, sync_status,"
                " error_message, last_updated_at, stale_after, deferred_note) VALUES (:id, :platform,"
                " CAST(:metrics AS jsonb), CAST(:warnings AS jsonb), :status, :error, :updated, :stale,"
                " :note)"
            ),
            {
                "id": account_id,
                "platform": row["platform"],
                "metrics": row["metrics"],
                "warnings": row["warnings"],
                "status": row["sync_status"],
                "error": row["error_message"],
                "updated": row["last_updated_at"],
                "stale": row["stale_after"],
                "note": row["deferred_note"],
            },
        )


def _python_rows(session: Session, workspace_id: str, now: datetime) -> list[dict[str, Any]]:
    """The stored rows read back raw, through models.row_rules."""
    stored = session.execute(
        text(
            "SELECT a.id, a.platform, a.handle, a.platform_account_id, s.account_id IS NOT NULL AS has_sync,"
            " s.sync_status, s.metrics::text AS metrics, s.warnings::text AS warnings, s.error_message,"
            " s.last_updated_at, s.stale_after, s.deferred_note"
            " FROM accounts a LEFT JOIN account_sync s ON s.account_id = a.id"
            " WHERE a.workspace_id = :ws ORDER BY a.created_at, a.id"
        ),
        {"ws": workspace_id},
    ).all()
    rows = []
    for r in stored:
        account = StoredAccount(r.id, r.platform, r.handle, r.platform_account_id)
        sync = None
        if r.has_sync:
            sync = StoredSync(
                sync_status=r.sync_status,
                metrics=json.loads(r.metrics, parse_float=Decimal),
                warnings=json.loads(r.warnings, parse_float=Decimal),
                error_message=r.error_message,
                last_updated_at=r.last_updated_at,
                stale_after=r.stale_after,
                deferred_note=r.deferred_note,
            )
        rows.append(api_row(account, sync, now))
    return rows


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), now=TIMES)
def test_sql_and_python_state_the_same_rows(
    session_factory: sessionmaker[Session], data: st.DataObject, now: datetime
) -> None:
    rows = data.draw(st.lists(stored_rows(now), min_size=1, max_size=4))
    workspace = seeding.workspace(session_factory)
    try:
        with session_factory.begin() as session:
            for index, row in enumerate(rows):
                _store(session, workspace.id, index, row)
        with session_factory() as session:
            body = json.loads(account_page_json(session, workspace.id, AccountFilter(), now))
            expected = _python_rows(session, workspace.id, now)
        assert body["items"] == expected
        # Equal dicts may differ in order; the published order is part of the rule.
        for item, row in zip(body["items"], expected, strict=True):
            assert list(item) == list(row)
            assert list(item["metrics"]) == list(row["metrics"])
    finally:
        with session_factory.begin() as session:
            session.execute(text("DELETE FROM workspaces WHERE id = :ws"), {"ws": workspace.id})
