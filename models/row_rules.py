"""The row rules of `GET /v1/analytics/accounts`, stated in plain Python.

PostgreSQL applies these rules on the hot path (`models/sql/account_page.sql`), where they are
harder to read; this module says the same thing for people, and a property test on a real
PostgreSQL (tests/integration/api/test_row_rules.py) holds the two equal on generated rows.
The API never calls this module.

From the stored account and its sync row (jsonb read back with `parse_float=Decimal`, so a number
keeps the digits after its point as PostgreSQL does), a row:
- has every field, in the seed's order;
- is `pending` when there is no sync row or its status is empty; a pending row has `{}` metrics
  and null times, whatever was stored;
- keeps only integer metrics (a number written without digits after the point), keys in the
  platform's published order, then the others by code point;
- keeps only string warnings, in order, then the deferred note while the row is stale (or
  pending), unless the note is among them already;
- gives times in UTC, ISO 8601 with a `Z`, truncated to the second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from models.read_models import METRIC_ORDER, format_time

__all__ = ["StoredAccount", "StoredSync", "api_row", "integer_metrics"]

# Keys without a published position sort after every published one.
_UNPUBLISHED = 2**31 - 1


@dataclass(frozen=True)
class StoredAccount:
    id: str
    platform: str
    handle: str | None
    platform_account_id: str | None


@dataclass(frozen=True)
class StoredSync:
    """An `account_sync` row; `metrics` and `warnings` are whatever JSON the column holds."""

    sync_status: str
    metrics: Any
    warnings: Any
    error_message: str | None
    last_updated_at: datetime | None
    stale_after: datetime | None
    deferred_note: str | None


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):  # JSON true/false are not numbers
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, Decimal) and value.is_finite() and int(value.as_tuple().exponent) >= 0


def integer_metrics(metrics: Any, platform: str | None) -> dict[str, int]:
    """Only the integer values of a metrics object, in the published order of `platform`."""
    if not isinstance(metrics, Mapping):
        return {}
    order = METRIC_ORDER.get(platform or "", ())

    def position(key: str) -> tuple[int, str]:
        return (order.index(key) if key in order else _UNPUBLISHED, key)

    kept = {key: int(value) for key, value in metrics.items() if _is_integer(value)}
    return {key: kept[key] for key in sorted(kept, key=position)}


def _warnings(sync: StoredSync, pending: bool, now: datetime) -> list[str]:
    stored = (
        sync.warnings if isinstance(sync.warnings, Sequence) and not isinstance(sync.warnings, str) else []
    )
    warnings = [warning for warning in stored if isinstance(warning, str)]
    note = sync.deferred_note
    stale = pending or sync.stale_after is None or sync.stale_after <= now
    if note and note not in warnings and stale:
        warnings.append(note)
    return warnings


def api_row(account: StoredAccount, sync: StoredSync | None, now: datetime) -> dict[str, Any]:
    """The row as the API returns it, judged stale or not at `now`."""
    status = (sync.sync_status if sync is not None else "") or "pending"
    pending = status == "pending"
    return {
        "account_id": account.id,
        "platform": account.platform,
        "handle": account.handle,
        "platform_account_id": account.platform_account_id,
        "metrics": {} if pending or sync is None else integer_metrics(sync.metrics, account.platform),
        "warnings": [] if sync is None else _warnings(sync, pending, now),
        "sync_status": status,
        "error_message": None if sync is None else sync.error_message,
        "last_updated_at": None if pending or sync is None else format_time(sync.last_updated_at),
        "stale_after": None if pending or sync is None else format_time(sync.stale_after),
    }
