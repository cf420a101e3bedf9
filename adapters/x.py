"""X (Twitter) API v2: the authenticated user's public metrics.

`GET /2/users/me?user.fields=public_metrics,verified_followers_count` with an OAuth 2.0 user
token. Every reply's `x-rate-limit-*` headers are reported to the rate budget. Access tokens
live two hours; with `offline.access` a refresh token is held and rotated on every refresh
(single use), so the new pair is stored before the new access token is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from adapters.base import (
    AccountRef,
    Credentials,
    FetchResult,
    Platform,
    RejectedMetric,
    SyncContext,
)
from adapters.classification import StatusTable, from_table
from adapters.errors import (
    IntegrationBug,
    MetricUnavailable,
    OperatorActionNeeded,
    PlatformBroken,
    PlatformError,
    PlatformUnavailable,
    RateLimited,
    ReconnectRequired,
    TokenExpired,
)
from adapters.flow import AdapterBase, credentials_from_token_reply, fetch_result
from adapters.http import Caller, Reply, path_segment
from adapters.limits import clamp, epoch_header, retry_after, x_rate_limit
from adapters.values import (
    Normalised,
    as_dict,
    as_str,
    optional_str,
    quote_platform_message,
    require,
)
from ops.foundation import platforms as platform_registry
from ops.foundation.platforms import PinnedVersion

# The pinned version and its sunset live in the registry (their sources are cited there).
PINNED: PinnedVersion = platform_registry.X_API
API_VERSION = PINNED.version
# Without a reset header, X's windows are 15 minutes.
DEFAULT_RATE_WAIT = timedelta(minutes=15)
OPTIONAL_FIELDS: tuple[str, ...] = ("verified_followers_count",)


def normalise(body: object) -> Normalised:
    """`/2/users/me` reply -> every integer of `public_metrics` plus `verified_followers_count`."""
    reply = as_dict(body, "X reply")
    user = as_dict(require(reply, "data", "X reply"), "X user")
    out = Normalised(
        handle=optional_str(user.get("username"), "X username"),
        platform_account_id=as_str(require(user, "id", "X user"), "X user id"),
    )
    public = as_dict(require(user, "public_metrics", "X user"), "X public_metrics")
    for key, value in public.items():
        if value is None or isinstance(value, dict | list):
            continue  # optional and nullable (media_count), or not a counter
        out.keep(str(key), value, f"X {key}")
    if "post_count" in out.metrics:
        # The API renamed tweet_count to post_count (OpenAPI v2.167); keep the key users know.
        out.metrics.setdefault("tweet_count", out.metrics["post_count"])
    if "followers_count" not in out.metrics and "followers_count" not in out.unreadable:
        raise PlatformBroken("malformed reply: X public_metrics has no followers_count")
    verified = user.get("verified_followers_count")
    if verified is not None:
        out.keep("verified_followers_count", verified, "X verified_followers_count")
    out.check_readable("X public_metrics")
    if out.unreadable:
        out.warnings.append(
            f"X sent {', '.join(out.unreadable)} in a form we cannot read; left out this time (last value kept)"
        )
    errors = reply.get("errors")
    if isinstance(errors, list) and errors:
        out.warnings.append(f"X reported {len(errors)} partial error(s) with the profile")
    return out


def _problem_type(body: Mapping[str, Any]) -> str:
    kind = body.get("type")
    return kind if isinstance(kind, str) else ""


# The statuses whose meaning needs no body (docs/platforms.md, "X (API v2)": Errors and the row).
STATUS_ERRORS: StatusTable = {
    401: lambda: TokenExpired("X rejected the access token"),
    402: lambda: OperatorActionNeeded("X", "credits", "X API credits are spent"),
}


def classify(
    reply: Reply, now: datetime, requested: Sequence[str] = (), *, edge: str = ""
) -> PlatformError | None:
    """None for a usable 2xx JSON object; otherwise the error this reply means (`edge` unused)."""
    body = reply.json_object or {}
    status, kind = reply.status, _problem_type(body)
    if 200 <= status < 300:
        if reply.json_object is None:
            return PlatformBroken("malformed reply from X: not a JSON object")
        if "data" not in body and body.get("errors"):
            return PlatformBroken("X returned errors and no data")
        return None
    by_itself = from_table(STATUS_ERRORS, status)
    if by_itself is not None:
        return by_itself
    if status == 400:
        rejected = _rejected_field(body, requested)
        if rejected:
            return MetricUnavailable(f"X no longer accepts the field {rejected}", rejected, retired=True)
        return IntegrationBug(f"X rejected our request: {quote_platform_message(body.get('detail'))}")
    if status == 403:
        if kind.endswith("client-forbidden"):
            return OperatorActionNeeded(
                "X", "app_product", "the app is not attached to a Project with access"
            )
        if kind.endswith("unsupported-authentication"):
            return OperatorActionNeeded("X", "client_config", "X refused the kind of token the app issued")
        return ReconnectRequired("X access was revoked or lacks the tweet.read/users.read scopes; reconnect")
    if status == 429:
        if kind.endswith("usage-capped") or body.get("title") == "UsageCapExceeded":
            return OperatorActionNeeded("X", "usage_cap", "the plan's monthly usage cap is reached")
        retry_at = epoch_header(reply.headers, "x-rate-limit-reset", now) or retry_after(reply.headers, now)
        return RateLimited(
            "X rate limit reached", retry_at or clamp(now + DEFAULT_RATE_WAIT, now), limit="X user rate limit"
        )
    if status >= 500:
        return PlatformUnavailable(f"X failed with HTTP {status} after retries")
    return IntegrationBug(f"X answered HTTP {status} to our request ({reply.endpoint})")


def _rejected_field(body: Mapping[str, Any], requested: Sequence[str]) -> str | None:
    """An `invalid-request` naming one of our optional `user.fields` values."""
    for error in body.get("errors") or []:
        parameters = error.get("parameters") if isinstance(error, dict) else None
        values = parameters.get("user.fields") if isinstance(parameters, dict) else None
        for value in values if isinstance(values, list) else []:
            if value in requested and value in OPTIONAL_FIELDS:
                return str(value)
    return None


def classify_token_reply(reply: Reply, now: datetime) -> PlatformError | None:
    body = reply.json_object or {}
    if 200 <= reply.status < 300 and "error" not in body:
        return None if reply.json_object is not None else PlatformBroken("malformed token reply from X")
    error = body.get("error")
    if error in ("invalid_client", "unauthorized_client"):
        # RFC 6749 5.2: the client itself is refused (a public client, a wrong secret).
        return OperatorActionNeeded("X", "client_config", "X refused our OAuth client when renewing a token")
    if error in ("invalid_request", "invalid_grant"):
        return ReconnectRequired("X refused to renew access (refresh token invalid or revoked); reconnect")
    if reply.status == 429:
        return RateLimited(
            "X token endpoint rate limited", clamp(now + DEFAULT_RATE_WAIT, now), limit="X OAuth"
        )
    if reply.status >= 500:
        return PlatformBroken(f"X token endpoint failed with HTTP {reply.status}")
    return IntegrationBug(f"X token refresh failed ({quote_platform_message(error) or reply.status})")


class XAdapter(AdapterBase):
    platform: Platform = "x"
    label: ClassVar[str] = "X"
    refresh_margin: ClassVar[timedelta] = timedelta(minutes=5)

    @property
    def _base(self) -> str:
        return f"{self._config.api_base.rstrip('/')}/{path_segment(self._config.api_version or API_VERSION)}"

    def can_refresh(self, account: AccountRef, credentials: Credentials) -> bool:
        return self._config.can_refresh_tokens and bool(credentials.refresh_token)

    def cannot_refresh(self, account: AccountRef, credentials: Credentials) -> PlatformError:
        if self._config.client_id and not self._config.client_secret and credentials.refresh_token:
            # The service runs X as a public client (an id, no secret): its users' tokens are
            # never renewed silently, and each reconnect would die again in two hours.
            return OperatorActionNeeded(
                "X", "client_config", "the X app has no client secret configured, so tokens can't be renewed"
            )
        return super().cannot_refresh(account, credentials)

    def _refresh(
        self, caller: Caller, account: AccountRef, credentials: Credentials, now: datetime
    ) -> Credentials:
        client_id, secret = self._config.client_id or "", self._config.client_secret or ""
        reply = caller.request(
            "POST",
            f"{self._base}/oauth2/token",
            endpoint="oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": credentials.refresh_token or "",
                "client_id": client_id,
            },
            auth=(client_id, secret),
            idempotent=False,
        )
        error = classify_token_reply(reply, now)
        if error is not None:
            raise error
        return credentials_from_token_reply(credentials, now, reply.data, "X")

    def _read(
        self,
        caller: Caller,
        account: AccountRef,
        context: SyncContext,
        credentials: Credentials,
        now: datetime,
    ) -> FetchResult:
        memory = context.catalog.memory(account)
        optional = [f for f in OPTIONAL_FIELDS if f not in memory.skipped()]
        rejected: list[str] = []
        headers = {"Authorization": f"Bearer {credentials.access_token}"}
        # One retry per optional field X refuses (a retired field fails the whole request).
        for _ in range(len(OPTIONAL_FIELDS) + 1):
            fields = ["public_metrics", *optional]
            reply = caller.request(
                "GET",
                f"{self._base}/users/me",
                endpoint="users/me",
                params={"user.fields": ",".join(fields)},
                headers=headers,
            )
            observation = x_rate_limit(reply.headers, now)
            if observation is not None:
                context.budget.observe(account, observation)
            error = classify(reply, now, fields)
            if isinstance(error, MetricUnavailable) and error.metric in optional:
                optional.remove(error.metric)
                rejected.append(error.metric)
                context.catalog.reject(
                    account, RejectedMetric(self.platform, error.metric, error.message, retirement=True)
                )
                continue
            if error is not None:
                raise error
            break
        out = normalise(reply.data)
        warnings = list(out.warnings)
        if rejected:
            warnings.append("X rejected the field(s) " + ", ".join(rejected))
        refused = [f for f in OPTIONAL_FIELDS if f in memory.refused and f not in memory.retired]
        if refused:
            warnings.append(f"X refused the field(s) {', '.join(refused)} earlier; last value kept")
        return fetch_result(out, warnings)
