"""Checked reads of platform JSON: every value an adapter keeps goes through here.

A reply with the wrong shape (a string where a count should be, a boolean, a negative or absurd
number, a missing field) becomes `PlatformBroken` with a message naming the field, never a
`TypeError` deep in an adapter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.errors import PlatformBroken

# No real counter comes near this; a bigger number means the reply is garbage.
MAX_COUNT = 10**13


@dataclass
class Normalised:
    """What a `normalise(...)` function makes of raw JSON."""

    metrics: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    handle: str | None = None
    platform_account_id: str | None = None
    # Metrics whose value came in a form we cannot read: left out, named in a warning.
    unreadable: list[str] = field(default_factory=list)

    def keep(self, key: str, value: object, what: str) -> None:
        """`metrics[key]` = the count in `value`, or `key` noted as unreadable when malformed."""
        try:
            self.metrics[key] = as_count(value, what)
        except PlatformBroken:
            self.unreadable.append(key)

    def check_readable(self, what: str) -> None:
        """Nothing readable at all, yet values were there: the reply is unreadable as a whole."""
        if self.unreadable and not self.metrics:
            raise PlatformBroken(f"malformed reply: no {what} value could be read")


def as_count(value: object, what: str, *, allow_negative: bool = False) -> int:
    # bool is an int subclass in Python: `true` must not become 1 follower.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlatformBroken(f"malformed reply: {what} is not an integer")
    if abs(value) > MAX_COUNT:
        raise PlatformBroken(f"malformed reply: {what} is implausibly large")
    if value < 0 and not allow_negative:
        raise PlatformBroken(f"malformed reply: {what} is negative")
    return value


def as_dict(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlatformBroken(f"malformed reply: {what} is not an object")
    return value


def as_list(value: object, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise PlatformBroken(f"malformed reply: {what} is not a list")
    return value


def as_str(value: object, what: str) -> str:
    # Some platforms send ids as numbers; anything else is not an identifier.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise PlatformBroken(f"malformed reply: {what} is not a string")
    return value


def optional_str(value: object, what: str) -> str | None:
    return None if value is None else as_str(value, what)


def require(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise PlatformBroken(f"malformed reply: {where} has no '{key}'")
    return data[key]


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@functools.lru_cache(maxsize=4096)  # the same few hundred LinkedIn keys, on every sync
def snake_case(name: str) -> str:
    """`allPageViews` -> `all_page_views`; `firstDegreeSize` -> `first_degree_size`."""
    return _CAMEL.sub("_", name).lower()


def quote_platform_message(message: object, limit: int = 160) -> str:
    """A platform's own short error text, made safe to show: one line, bounded length."""
    if not isinstance(message, str):
        return ""
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
