"""The opaque page cursor of `GET /v1/analytics/accounts`: the position of a page's last row.

Rows are ordered by (created_at, id), so a cursor names that pair: `1.<created_at in Unix
microseconds>.<id>`. Clients treat it as opaque; its shape is one regular expression
(`CURSOR_PATTERN`, also in the OpenAPI document), and every string of that shape decodes, so a
cursor is judged by its shape alone: no well-formed one is refused. The next page is the keyset seek
`(created_at, id) > cursor` on `ix_accounts_workspace_created`, whose cost does not grow with the
position (OFFSET's does), and an account connected meanwhile (created now, so last) never shifts
a page: nothing is shown twice or skipped. PostgreSQL writes cursors into the page it builds
(`cursor_sql`); `encode_cursor` is the same encoding in Python, and a test holds them equal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

VERSION = "1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 17 digits of microseconds reach the year 5138, inside both datetime's range and PostgreSQL's.
# Account ids are `acc_` + hex (models.ids), at most 40 characters (accounts.id).
CURSOR_PATTERN = r"^1\.([0-9]{1,17})\.([A-Za-z0-9_-]{1,40})$"
_CURSOR = re.compile(CURSOR_PATTERN)


class InvalidCursor(ValueError):
    """A cursor this service did not write (or from an incompatible version)."""


CursorPosition = tuple[datetime, str]


def encode_cursor(created_at: datetime, account_id: str) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{VERSION}.{micros}.{account_id}"


def decode_cursor(cursor: str) -> CursorPosition:
    # `match` with `$`, as JSON Schema's `pattern` (and so the clients' generators) read it.
    found = _CURSOR.match(cursor)
    if found is None:
        raise InvalidCursor("not a cursor of this API")
    return _EPOCH + timedelta(microseconds=int(found.group(1))), found.group(2)


def cursor_sql(created_at: str, account_id: str) -> str:
    """SQL text of `encode_cursor(created_at, account_id)` over two column expressions."""
    # extract(epoch) is exact (numeric) since PostgreSQL 14.
    return f"'{VERSION}.' || (extract(epoch FROM {created_at}) * 1000000)::bigint || '.' || {account_id}"
