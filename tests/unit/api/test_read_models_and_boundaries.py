"""Pure parts of the API side: the row serialiser and JWT decoding. What `api/` may import is an
import-linter contract (pyproject.toml, `make lint`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest

from models.auth import decode_jwt
from models.read_models import AccountFilter, AccountRow, format_time, parse_time

SECRET = "unit-secret-long-enough-for-hs256-and-hs512-0123456789abcdefghijklmnop"


def test_times_are_utc_with_z_to_the_second() -> None:
    paris = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 6, 29, 11, 0, 0, 999_999, tzinfo=paris)) == "2026-06-29T09:00:00Z"
    assert format_time(None) is None
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2026, 6, 29))


def test_parse_time_inverts_format_time() -> None:
    at = datetime(2026, 6, 29, 9, 0, 5, tzinfo=UTC)
    assert parse_time(format_time(at)) == at
    assert parse_time(None) is None


def test_row_json_round_trips() -> None:
    data = {
        "account_id": "acc_1",
        "platform": "x",
        "handle": "@h",
        "platform_account_id": "1",
        "metrics": {"followers_count": 2, "alpha": 1},
        "warnings": ["w"],
        "sync_status": "partial",
        "error_message": None,
        "last_updated_at": "2026-06-29T09:00:00Z",
        "stale_after": "2026-06-29T15:00:00Z",
    }
    row = AccountRow.from_json(data, workspace_id="ws_1")
    assert row.to_json() == data and list(row.to_json()["metrics"]) == ["followers_count", "alpha"]
    assert row.last_updated_at == datetime(2026, 6, 29, 9, tzinfo=UTC) and row.workspace_id == "ws_1"


def test_row_json_has_every_field_in_order_and_warning_is_added_once() -> None:
    row = AccountRow(
        account_id="acc_1",
        platform="tiktok",
        handle=None,
        platform_account_id=None,
        metrics={},
        warnings=(),
        sync_status="pending",
        error_message=None,
        last_updated_at=None,
        stale_after=None,
    )
    data = row.with_warning("w").with_warning("w").to_json()
    assert list(data) == [
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
    assert data["warnings"] == ["w"]


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_filter_limit_bounds(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        AccountFilter(limit=limit)


def test_decode_jwt() -> None:
    exp = int(time.time()) + 60
    good = jwt.encode({"workspace_id": "ws_1", "exp": exp}, SECRET, algorithm="HS256")
    assert decode_jwt(good, SECRET) == {"workspace_id": "ws_1", "exp": exp}
    for token in (
        jwt.encode({"workspace_id": "ws_1", "exp": exp}, SECRET, algorithm="HS384"),
        jwt.encode({"workspace_id": "ws_1"}, SECRET, algorithm="HS256"),
        jwt.encode({"workspace_id": 7, "exp": exp}, SECRET, algorithm="HS256"),
        jwt.encode({"workspace_id": "ws_1", "exp": int(time.time()) - 40}, SECRET, algorithm="HS256"),
        "",
        "é.é.é",
    ):
        assert decode_jwt(token, SECRET) is None


def test_times_from_any_zone_compare_in_utc() -> None:
    assert format_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
