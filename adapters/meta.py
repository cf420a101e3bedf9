"""What Instagram and Facebook Pages share: the Graph API version, error classification, usage
headers, and reading insights when one bad metric fails the whole request.

Meta answers almost every error with HTTP 400, so the class comes from the body's `code`,
`error_subcode` and message, never from the status alone (docs/platforms.md, the "Errors and the
row" tables of Instagram and Facebook Pages;
https://developers.facebook.com/docs/graph-api/guides/error-handling).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog

from adapters.base import (
    AccountRef,
    RateBudget,
    SyncContext,
)
from adapters.errors import (
    InsightsDenied,
    IntegrationBug,
    MetricUnavailable,
    OperatorActionNeeded,
    PlatformBroken,
    PlatformError,
    PlatformUnavailable,
    RateLimited,
    ReconnectRequired,
    RetryLater,
)
from adapters.http import Caller, Reply, path_segment
from adapters.limits import clamp, meta_buc_wait, meta_usage, retry_after
from adapters.values import quote_platform_message
from ops.foundation import platforms as platform_registry
from ops.foundation.platforms import PinnedVersion

log = structlog.get_logger()

# The pinned version and its sunset live in the registry (their sources are cited there).
GRAPH_API: PinnedVersion = platform_registry.GRAPH_API
GRAPH_API_VERSION = GRAPH_API.version

THROTTLE_CODES = frozenset({4, 17, 32, 341, 368, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
# No reset time in the reply: try again after this (Meta's windows are rolling hours).
DEFAULT_THROTTLE_WAIT = timedelta(minutes=15)
DEFAULT_TRANSIENT_WAIT = timedelta(minutes=2)
AUTH_SUBCODES = {
    458: "the app was removed from the account",
    459: "the user must log in at facebook.com to unlock the account",
    460: "the password was changed",
    463: "the access token has expired",
    464: "the user is not confirmed",
    467: "the access token is no longer valid",
}
# Graph's answer to a version it no longer (or does not yet) serve: (#2635) "You are calling a
# deprecated version of the ... API" (Marketing API versioning guide) and (#2500) "Unknown path
# components" for a version segment it does not know (checked 2026-12-01; open question in
# docs/platforms.md whether Graph auto-upgrades instead).
VERSION_CODES = frozenset({2635, 12})
_METRIC_INDEX = re.compile(r"metric\[(\d+)\]")
_RETIRED_TEXT = ("must be one of the following values", "valid insights metric", "no longer supported")


Edge = Literal["node", "insights", "token"]


def graph_error(reply: Reply) -> Mapping[str, Any] | None:
    body = reply.json_object
    error = body.get("error") if body is not None else None
    return error if isinstance(error, dict) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def classify(
    reply: Reply,
    now: datetime,
    *,
    label: str,
    requested_metrics: Sequence[str] = (),
    edge: str = "node",
) -> PlatformError | None:
    """None for a usable 2xx JSON object; otherwise the error this reply means.

    `edge` says what was asked: the account's basic read ("node"), its insights edge, or the
    token refresh. A permission refusal of the insights edge leaves the basic read standing.
    This is the shared Graph API classifier: `instagram.classify` and `facebook.classify` give it
    the one signature of `adapters.classification.Classifier`, with their label.
    """
    error = graph_error(reply)
    if error is None:
        if reply.status >= 500:
            return PlatformUnavailable(
                f"{label} failed with HTTP {reply.status} after retries ({reply.endpoint})"
            )
        if 200 <= reply.status < 300 and reply.json_object is not None:
            return None
        if 200 <= reply.status < 300:
            return PlatformBroken(f"malformed reply from {label}: not a JSON object ({reply.endpoint})")
        if reply.status in (404, 405):
            return IntegrationBug(f"{label} has no such endpoint (HTTP {reply.status}, {reply.endpoint})")
        return PlatformBroken(
            f"{label} answered HTTP {reply.status} without a Graph error ({reply.endpoint})"
        )
    return _classify_error(error, reply, now, label, requested_metrics, edge)


# The insights permission of each Meta flavour, named in the row's warning.
INSIGHTS_PERMISSION = {"Facebook": "read_insights", "Instagram": "instagram_manage_insights"}
_APP_LACKS = ("application does not have", "app does not have", "advanced access", "app review")


def insights_denied(label: str, text: str, permission: str | None = None) -> InsightsDenied:
    permission = permission or INSIGHTS_PERMISSION.get(label, "the insights permission")
    for candidate in ("read_insights", "instagram_manage_insights", "instagram_business_manage_insights"):
        if candidate in text:
            permission = candidate
    kind = "Page insight" if label == "Facebook" else "insight"
    return InsightsDenied(
        f"{label} refused the insights edge ({text})",
        permission,
        f"{label} {kind} metrics unavailable: reconnect and grant {permission}.",
        platform_text=text,
    )


def _classify_error(
    error: Mapping[str, Any],
    reply: Reply,
    now: datetime,
    label: str,
    requested: Sequence[str],
    edge: str = "node",
) -> PlatformError:
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    text = quote_platform_message(error.get("message"))
    lowered = text.lower()
    if code in THROTTLE_CODES:
        retry_at = retry_after(reply.headers, now) or meta_buc_wait(reply.headers, now)
        return RateLimited(
            f"{label} rate limit reached (code {code})",
            retry_at or clamp(now + DEFAULT_THROTTLE_WAIT, now),
            limit=f"{label} rate limit (code {code})",
        )
    if code in TRANSIENT_CODES or error.get("is_transient") is True:
        return RetryLater(f"{label} is temporarily unavailable (code {code})", now + DEFAULT_TRANSIENT_WAIT)
    if code == 190:
        if "page access token" in lowered:
            # A user or system-user token where a Page token is needed: our setup, not the user's.
            return IntegrationBug(f"{label} needs a Page access token; the stored token is another type")
        if "permission" in lowered:
            return ReconnectRequired(f"{label} permission missing; reconnect and grant it: {text}")
        reason = AUTH_SUBCODES.get(subcode or 0, "the access token is invalid or was revoked")
        return ReconnectRequired(f"{label} access lost ({reason}); reconnect the account")
    if code == 102:
        return ReconnectRequired(f"{label} session is no longer valid; reconnect the account")
    if code in VERSION_CODES or (code == 2500 and "unknown path components" in lowered):
        return OperatorActionNeeded(label, "api_version", "the pinned Graph API version is not served")
    if code == 3:
        # "API Method: capability or permission problem: fix the app's capabilities" (error table).
        return OperatorActionNeeded(label, "app_permission", f"the app lacks a capability: {text}")
    if code == 10 or (code is not None and 200 <= code <= 299):
        if edge == "insights":
            # The basic read already worked: only the insights permission is missing.
            return insights_denied(label, text)
        if code == 10 and any(marker in lowered for marker in _APP_LACKS):
            # The app itself lacks Advanced Access for what it asks: reconnecting fixes nothing.
            return OperatorActionNeeded(label, "app_permission", f"the app lacks access: {text}")
        return ReconnectRequired(f"{label} permission missing; reconnect and grant it: {text}")
    if code == 100:
        if edge == "insights" and "missing permission" in lowered:
            return insights_denied(label, text)
        return _classify_100(subcode, text, lowered, label, requested)
    if code == 3001:
        return IntegrationBug(f"{label} rejected our insights request: {text}")
    if reply.status >= 500:
        return PlatformUnavailable(f"{label} failed with HTTP {reply.status} after retries (code {code})")
    return IntegrationBug(f"{label} rejected our request (code {code}): {text}")


def _classify_100(
    subcode: int | None, text: str, lowered: str, label: str, requested: Sequence[str]
) -> PlatformError:
    if subcode == 33:
        return ReconnectRequired(
            f"{label} account is no longer accessible with this connection; reconnect it"
        )
    if any(marker in lowered for marker in _RETIRED_TEXT):
        match = _METRIC_INDEX.search(text)
        index = int(match.group(1)) if match and len(match.group(1)) < 4 else -1
        metric = requested[index] if 0 <= index < len(requested) else ""
        return MetricUnavailable(
            f"{label} no longer accepts the metric {metric or '(unnamed)'}", metric, retired=True
        )
    if "missing permission" in lowered:
        return ReconnectRequired(f"{label} permission missing; reconnect and grant it")
    return IntegrationBug(f"{label} rejected our request (code 100): {text}")


def observe_usage(budget: RateBudget, account: AccountRef, reply: Reply, now: datetime) -> None:
    for observation in meta_usage(reply.headers, now):
        budget.observe(account, observation)


def check(
    reply: Reply,
    now: datetime,
    *,
    label: str,
    requested_metrics: Sequence[str] = (),
    edge: Edge = "node",
) -> Mapping[str, Any]:
    """The reply's JSON object, or raise what it means."""
    error = classify(reply, now, label=label, requested_metrics=requested_metrics, edge=edge)
    if error is not None:
        raise error
    body = reply.json_object
    if body is None:  # unreachable: classify returns None only for a JSON object
        raise PlatformBroken(f"malformed reply from {label}")
    return body


def window(now: datetime, days: int) -> tuple[int, int]:
    """`since`/`until` as unix seconds; Meta allows at most 30 days between them."""
    days = max(1, min(days, 30))
    until = int(now.timestamp())
    return until - days * 86400, until


GraphGet = Callable[..., Any]


def graph_getter(
    caller: Caller,
    base: str,
    token: str,
    account: AccountRef,
    context: SyncContext,
    now: datetime,
    label: str,
) -> GraphGet:
    """`get(segments, params, endpoint, requested=())`: one Graph GET of the path made of
    `segments` (each URL-quoted: an id can't reach another node), its usage headers fed to the
    budget, its reply classified (with the metrics it asked for, to isolate a rejected one)."""
    headers = bearer(token)

    def get(
        segments: Sequence[str], params: dict[str, str], endpoint: str, requested: Sequence[str] = ()
    ) -> Any:
        path = "/".join(path_segment(s) for s in segments)
        reply = caller.request("GET", f"{base}/{path}", endpoint=endpoint, params=params, headers=headers)
        observe_usage(context.budget, account, reply, now)
        edge: Edge = "insights" if endpoint == "insights" else "node"
        return check(reply, now, label=label, requested_metrics=requested, edge=edge)

    return get


def bearer(token: str) -> dict[str, str]:
    # Graph accepts the token in a header; keeping it out of the URL keeps it out of any log line.
    return {"Authorization": f"Bearer {token}"}
