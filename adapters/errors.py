"""The one error tree for the outside world.

Classified once, where a platform reply is read; everything else keys off the class.

    PlatformError
     ├── RetryLater(retry_at)           a short outage: the sync failed and backs off, but is
     │    │                             never tried again before retry_at
     │    └── RateLimited(limit)        a rate limit (the platform's or our own budget): the row is
     │         │                        left as it was, the next sync at retry_at (+ jitter)
     │         └── OutageHold           the platform is held after failing most syncs (worker.outage):
     │                                  the row is left as it was and keeps its place in the queue
     ├── TokenExpired                   refresh the token silently, then retry once (adapter-internal)
     ├── ReconnectRequired              credentials expired/revoked/missing a permission: user must act
     ├── MetricUnavailable(metric)      one metric can't be read: the rest is a partial result
     ├── InsightsDenied(permission)     the basic read works, the insights edge is refused for lack
     │                                  of a permission: basic metrics kept, row partial (adapter-internal)
     ├── RequestNotSent                 our request could not even be built or sent (a token or id
     │                                  HTTP can't carry, a bad URL): nothing sent, no budget spent,
     │                                  no retry, never counted towards an outage hold; the sync failed
     ├── PlatformBroken                 5xx after retries, timeouts, malformed replies: the sync failed
     │    └── PlatformUnavailable       no usable answer (5xx after retries, timeout, unreachable):
     │                                  also counted towards an outage hold
     └── IntegrationBug                 our request is wrong (retired metric, wrong token type):
          │                             fails the sync and is logged loudly
          └── OperatorActionNeeded(cause)  only whoever runs the service can fix it (app review or
                                        product missing, credits spent, sunset API version, a client
                                        with no secret): failed, never requires_reconnect

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
    """Transient: the same request may succeed at or after `retry_at` (UTC).

    A token refresh that ends here is deferred (the old token still works); a read that ends here
    fails the sync, whose backoff is stretched to `retry_at` when that is later.
    """

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class RateLimited(RetryLater):
    """A rate limit or quota: `limit` names it for the row's warning ("X user rate limit")."""

    def __init__(self, message: str, retry_at: datetime, limit: str) -> None:
        super().__init__(message, retry_at)
        self.limit = limit


class OutageHold(RateLimited):
    """Not sent: the platform is held until `retry_at` because most of its syncs just failed."""


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


class RequestNotSent(PlatformError):
    """Refused on our side before anything went out (an encoding or local protocol error).

    The platform was never asked, so this says nothing about it: no retry, no budget, no outage
    vote. The message names the endpoint, never the value that could not be sent.
    """


class PlatformBroken(PlatformError):
    """The platform failed us (5xx after retries, timeout, malformed reply)."""


class PlatformUnavailable(PlatformBroken):
    """No usable answer at all: 5xx after retries, a timeout, the platform unreachable."""


class IntegrationBug(PlatformError):
    """Our request is wrong; an operator must fix code or configuration."""


class InsightsDenied(PlatformError):
    """The insights edge refused for lack of `permission`; the account's basic read still works.

    Adapters catch it and return the basic metrics with `warning` (the row becomes partial).
    """

    def __init__(self, message: str, permission: str, warning: str, platform_text: str = "") -> None:
        super().__init__(message)
        self.permission = permission
        self.warning = warning
        self.platform_text = platform_text  # the platform's own short wording, for re-labelling


# The causes an operator problem is counted by on /metrics (a small fixed set: a label value).
OPERATOR_CAUSES = (
    "app_permission",  # the app lacks Advanced Access / app review for a permission
    "app_product",  # the app lacks a platform product (LinkedIn Community Management, ...)
    "api_version",  # our pinned API version is sunset or unknown
    "credits",  # pay-per-use credits spent (X 402)
    "usage_cap",  # a plan's monthly cap reached
    "client_config",  # client id/secret missing or refused, a public client that can't refresh
)


class OperatorActionNeeded(IntegrationBug):
    """A refusal only the service's operator can fix; reconnecting the account fixes nothing."""

    def __init__(self, label: str, cause: str, detail: str) -> None:
        super().__init__(
            f"{label} platform setup of this service needs attention ({detail}); "
            "the operators have been alerted, no action is needed on the account"
        )
        self.cause = cause if cause in OPERATOR_CAUSES else "client_config"
