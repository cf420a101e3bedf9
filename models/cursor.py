"""The API's opaque page cursors, both kinds: the position of a page's last row.

Two lists page by keyset, each ordered by a (time, id) pair, and their cursors name that pair as
`1.<time in Unix microseconds>.<id>`:
- `GET /v1/analytics/accounts` by (created_at, id), the account id being `acc_...` text
  (`CURSOR_PATTERN`); PostgreSQL writes these cursors into the page it builds (`cursor_sql`),
  `encode_cursor` is the same encoding in Python, and a test holds them equal;
- an account's history by the snapshot's (captured_at, id), the id a bigint
  (`HISTORY_CURSOR_PATTERN`).
Clients treat cursors as opaque; each shape is one regular expression (also in the OpenAPI
document), and every string of that shape decodes, so a cursor is judged by its shape alone: no
well-formed one is refused. The next page is a keyset seek `(time, id) > cursor` on an index, whose
cost does not grow with the position (OFFSET's does), and a row added meanwhile (created now, so
last) never shifts a page: nothing is shown twice or skipped. Cursors are not signed: a forged one
can only move the start of a page within the caller's own rows, which the filters can do as well.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

VERSION = "1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 17 digits of microseconds reach the year 5138, inside both datetime's range and PostgreSQL's.
# Account ids are `acc_` + hex (models.ids), at most 40 characters (accounts.id); 18 digits of
# snapshot id stay below bigint's maximum.
CURSOR_PATTERN = r"^1\.([0-9]{1,17})\.([A-Za-z0-9_-]{1,40})$"
HISTORY_CURSOR_PATTERN = r"^1\.([0-9]{1,17})\.([1-9][0-9]{0,17})$"
_CURSOR = re.compile(CURSOR_PATTERN)
_HISTORY_CURSOR = re.compile(HISTORY_CURSOR_PATTERN)


class InvalidCursor(ValueError):
    """A cursor this service did not write (or from an incompatible version)."""


CursorPosition = tuple[datetime, str]
HistoryPosition = tuple[datetime, int]


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(micros: str) -> datetime:
    return _EPOCH + timedelta(microseconds=int(micros))


def encode_cursor(created_at: datetime, account_id: str) -> str:
    return f"{VERSION}.{_micros(created_at)}.{account_id}"


def decode_cursor(cursor: str) -> CursorPosition:
    # `match` with `$`, as JSON Schema's `pattern` (and so the clients' generators) read it.
    found = _CURSOR.match(cursor)
    if found is None:
        raise InvalidCursor("not a cursor of this API")
    return _moment(found.group(1)), found.group(2)


def encode_history_cursor(after: HistoryPosition) -> str:
    captured_at, snapshot_id = after
    return f"{VERSION}.{_micros(captured_at)}.{snapshot_id}"


def decode_history_cursor(cursor: str) -> HistoryPosition:
    """The (captured_at, id) a history cursor names."""
    found = _HISTORY_CURSOR.match(cursor)
    if found is None:
        raise InvalidCursor("not a cursor from a previous page")
    return _moment(found.group(1)), int(found.group(2))


def cursor_sql(created_at: str, account_id: str) -> str:
    """SQL text of `encode_cursor(created_at, account_id)` over two column expressions."""
    # extract(epoch) is exact (numeric) since PostgreSQL 14.
    return f"'{VERSION}.' || (extract(epoch FROM {created_at}) * 1000000)::bigint || '.' || {account_id}"
