"""The opaque `cursor` of an account's history pages: where the previous page ended.

It encodes the last snapshot's (captured_at, id), the key the history is ordered by, so a page
is one index range however deep it is. It is not signed: a forged cursor can only move the start
of a page within the caller's own account, which `since` can do as well.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from api.errors import InvalidParameter

_MAX_ID = 2**63 - 1
_BAD_CURSOR = "Invalid value for parameter 'cursor': not a cursor from a previous page."


def encode_history_cursor(after: tuple[datetime, int]) -> str:
    captured_at, snapshot_id = after
    raw = f"{captured_at.isoformat()}|{snapshot_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_history_cursor(cursor: str) -> tuple[datetime, int]:
    """The (captured_at, id) a cursor names, or InvalidParameter naming `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, snapshot_id = raw.partition("|")
        captured_at = datetime.fromisoformat(at)
        number = int(snapshot_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParameter(_BAD_CURSOR, param="cursor") from None
    # Snapshot ids are bigint: a larger number would fail in the database, not here.
    if captured_at.tzinfo is None or not snapshot_id.isdigit() or not 1 <= number <= _MAX_ID:
        raise InvalidParameter(_BAD_CURSOR, param="cursor")
    return captured_at, number
