"""The opaque page cursor of `GET /v1/analytics/accounts`: the position of a page's last row.

Rows are ordered by (created_at, id), so a cursor names that pair: `1:<created_at in Unix
microseconds>:<id>`, base64url without padding. The next page is the keyset seek
`(created_at, id) > cursor` on `ix_accounts_workspace_created`, whose cost does not grow with the
position (OFFSET's does), and an account connected meanwhile (created now, so last) never shifts
a page: nothing is shown twice or skipped. PostgreSQL writes cursors into the page it builds
(`cursor_sql`); `encode_cursor` is the same encoding in Python, and a test holds them equal.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

VERSION = "1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_CURSOR_CHARS = 200


class InvalidCursor(ValueError):
    """A cursor this service did not write (or from an incompatible version)."""


CursorPosition = tuple[datetime, str]


def encode_cursor(created_at: datetime, account_id: str) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    raw = f"{VERSION}:{micros}:{account_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> CursorPosition:
    if not cursor or len(cursor) > _MAX_CURSOR_CHARS:
        raise InvalidCursor("not a cursor of this API")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        version, micros, account_id = raw.split(":", 2)
        created_at = _EPOCH + timedelta(microseconds=int(micros))
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise InvalidCursor("not a cursor of this API") from None
    if version != VERSION or not account_id or "\x00" in account_id or not micros.lstrip("-").isdigit():
        raise InvalidCursor("not a cursor of this API")
    return created_at, account_id


def cursor_sql(created_at: str, account_id: str) -> str:
    """SQL text of `encode_cursor(created_at, account_id)` over two column expressions."""
    # PostgreSQL's base64 breaks lines every 76 characters; translate drops the newlines (and,
    # with rtrim, the padding) and makes it URL-safe. extract(epoch) is exact (numeric) since 14.
    raw = f"'{VERSION}:' || (extract(epoch FROM {created_at}) * 1000000)::bigint || ':' || {account_id}"
    return f"rtrim(translate(encode(convert_to({raw}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"
