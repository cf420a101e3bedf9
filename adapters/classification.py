"""The one shape of a platform's reply classifier, and status tables as data.

Every platform module exposes `classify(reply, now, requested=(), *, edge="")`: None for a usable
reply, otherwise the error of `adapters.errors` the reply means. `requested` names the metrics or
fields the request asked for (a retired one is named in the error); `edge` is the adapter's name
of the call where a refusal of one call leaves the account's basic read standing (Meta's
"insights" edge, LinkedIn's statistics endpoints).

Where the HTTP status (or the platform's error code) alone decides, a platform lists it in a
`StatusTable` (or `CodeTable`): key -> the error it means, as airbyte-python-cdk's
`DEFAULT_ERROR_MAPPING` does. The code that reads bodies and headers is left for the cases whose
meaning depends on them (a reset time, a named field, a message that tells app from member).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from adapters.errors import PlatformError
from adapters.http import Reply

# A factory, not an instance: an error carries per-raise state (`calls`, a traceback).
ErrorFactory = Callable[[], PlatformError]
StatusTable = Mapping[int, ErrorFactory]  # HTTP status -> the error it means by itself
CodeTable = Mapping[str, ErrorFactory]  # a platform's error code -> the error it means by itself
Key = TypeVar("Key", int, str)


class Classifier(Protocol):
    def __call__(
        self, reply: Reply, now: datetime, requested: Sequence[str] = (), *, edge: str = ""
    ) -> PlatformError | None: ...


def from_table(table: Mapping[Key, ErrorFactory], key: Key) -> PlatformError | None:
    """The error `key` (a status or a code) means by itself, or None when more must decide."""
    make = table.get(key)
    return make() if make is not None else None
