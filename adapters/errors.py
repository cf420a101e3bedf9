"""The one error tree for the outside world.

Classified once, where a platform reply is read; everything else keys off the class.

    PlatformError
     ├── RetryLater(retry_at)           rate limits and short outages: try again after retry_at
     │    └── RateLimited               the platform (or our own budget) said "not before retry_at"
     ├── TokenExpired                   refresh the token silently, then retry once (adapter-internal)
     ├── ReconnectRequired              credentials expired/revoked/missing a permission: user must act
     ├── MetricUnavailable(metric)      one metric can't be read: the rest is a partial result
     ├── PlatformBroken                 5xx after retries, timeouts, malformed replies: the sync failed
     └── IntegrationBug                 our request is wrong (retired metric, wrong token type, sunset
                                        API version): fails the sync and is logged loudly

Messages never contain a token, a secret or a raw response body: they are shown to users as
`error_message`.
"""

from __future__ import annotations

from datetime import datetime


class PlatformError(Exception):
    """Anything a platform call can end in, other than a result."""

    # Platform HTTP calls made before the error, set by the adapter (for metrics and tests).
    calls: int = 0

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryLater(PlatformError):
    """Transient: the same request may succeed at or after `retry_at` (UTC)."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class RateLimited(RetryLater):
    """A rate limit or quota: `limit` names it for the row's warning ("X user rate limit")."""

    def __init__(self, message: str, retry_at: datetime, limit: str) -> None:
        super().__init__(message, retry_at)
        self.limit = limit


class TokenExpired(PlatformError):
    """The access token expired; a silent refresh may fix it."""


class ReconnectRequired(PlatformError):
    """Credentials are expired, revoked or lack a permission and can't be refreshed silently."""


class MetricUnavailable(PlatformError):
    """One metric can't be read for this account (permission, retired, no data)."""

    def __init__(self, message: str, metric: str, *, retired: bool = False) -> None:
        super().__init__(message)
        self.metric = metric
        self.retired = retired


class PlatformBroken(PlatformError):
    """The platform failed us (5xx after retries, timeout, malformed reply)."""


class IntegrationBug(PlatformError):
    """Our request is wrong; an operator must fix code or configuration."""
