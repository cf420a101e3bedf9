"""JSON on the sync's hot path (platform replies, JSONB columns): orjson, with the stdlib's results.

orjson is several times faster than the stdlib, but differs at the edges: it reads an integer past
64 bits as a float (a metric would stop being an integer), refuses NaN and Infinity, and can't
write such integers. Those cases go to the stdlib, so every value reads and writes as before.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# 19 digits in a row may be an integer past 64 bits (orjson would read it as a float).
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def loads(data: bytes | str) -> Any:
    """`json.loads`, faster; raises ValueError (or RecursionError) on what the stdlib refuses."""
    long_digits = _LONG_DIGITS_TEXT.search(data) if isinstance(data, str) else _LONG_DIGITS.search(data)
    if long_digits is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the stdlib decides (NaN, Infinity, deep nesting...)
    return json.loads(data)


def dumps(value: object) -> str:
    """Compact JSON text, as `json.dumps` would read back; the stdlib for what orjson can't write."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)
