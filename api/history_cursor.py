"""The opaque `cursor` of an account's history pages: where the previous page ended.

It names the last snapshot's (captured_at, id), the key the history is ordered by, so a page is
one index range however deep it is: `1.<captured_at in Unix microseconds>.<snapshot id>`. Its
shape is one regular expression (`HISTORY_CURSOR_PATTERN`, also in the OpenAPI document) and every
string of that shape decodes, so a cursor is judged by its shape alone (as `models.cursor` does for
the account list). It is not signed: a forged cursor can only move the start of a page within the
caller's own account, which `since` can do as well.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from api.errors import InvalidParameter

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 17 digits of microseconds reach the year 5138 (inside datetime's range and PostgreSQL's); 18
# digits of id stay below bigint's maximum.
HISTORY_CURSOR_PATTERN = r"^1\.([0-9]{1,17})\.([1-9][0-9]{0,17})$"
_CURSOR = re.compile(HISTORY_CURSOR_PATTERN)
_BAD_CURSOR = "Invalid value for parameter 'cursor': not a cursor from a previous page."


def encode_history_cursor(after: tuple[datetime, int]) -> str:
    captured_at, snapshot_id = after
    micros = (captured_at - _EPOCH) // timedelta(microseconds=1)
    return f"1.{micros}.{snapshot_id}"


def decode_history_cursor(cursor: str) -> tuple[datetime, int]:
    """The (captured_at, id) a cursor names, or InvalidParameter naming `cursor`."""
    found = _CURSOR.match(cursor)
    if found is None:
        raise InvalidParameter(_BAD_CURSOR, param="cursor")
    return _EPOCH + timedelta(microseconds=int(found.group(1))), int(found.group(2))
