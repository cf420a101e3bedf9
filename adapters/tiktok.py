"""TikTok (Display API v2): `GET /v2/user/info/` with the `user.info.stats` fields.

Every reply is the `{"data", "error"}` envelope and `error.code` decides, whatever the HTTP
status (`"ok"` on success). Access tokens are short-lived (2 h in the 2026-11 docs, 24 h
before); refresh tokens rotate and the previous one stops working once a new one is issued,
so the new pair is stored before use. `username` needs `user.info.profile`: it is only asked
for when the stored scopes include it, because an unauthorised field fails the whole request.
"""

from __future__ import annotations

import re
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
from adapters.classification import CodeTable, from_table
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
from adapters.limits import clamp, retry_after
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
PINNED: PinnedVersion = platform_registry.TIKTOK_API
API_VERSION = PINNED.version
STAT_FIELDS: tuple[str, ...] = platform_registry.spec("tiktok").metric_keys
BASIC_FIELDS: tuple[str, ...] = ("open_id", "display_name")
PROFILE_SCOPE = "user.info.profile"
# 600 requests per sliding minute and no reset header: a minute is the honest wait.
DEFAULT_RATE_WAIT = timedelta(minutes=1)
_FIELD_IN_MESSAGE = re.compile(r"[a-z_]+")


def envelope(reply: Reply) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(data, error) of TikTok's envelope, or PlatformBroken when the reply is not one."""
    body = reply.json_object
    if body is None:
        raise PlatformBroken(f"malformed reply from TikTok: not a JSON object (HTTP {reply.status})")
    error = as_dict(require(body, "error", "TikTok reply"), "TikTok error")
    data = body.get("data")
    return (data if isinstance(data, dict) else {}), error


SCOPE_MISSING = "TikTok access lacks the user.info.stats scope; reconnect and grant user.info.stats"
# The error codes whose meaning needs nothing else (docs/platforms.md, "TikTok (Display API v2)":
# Errors and the row).
CODE_ERRORS: CodeTable = {
    "access_token_invalid": lambda: TokenExpired("TikTok access token is invalid or expired"),
    # Every metric is a user.info.stats field: without the scope nothing can be read.
    "scope_not_authorized": lambda: ReconnectRequired(SCOPE_MISSING),
    "scope_permission_missed": lambda: ReconnectRequired(SCOPE_MISSING),
}


def classify(
    reply: Reply, now: datetime, requested: Sequence[str] = (), *, edge: str = ""
) -> PlatformError | None:
    """None for a usable 2xx JSON object; otherwise the error this reply means (`edge` unused)."""
    try:
        _, error = envelope(reply)
    except PlatformBroken as exc:
        if reply.status >= 500:
            return PlatformUnavailable(f"TikTok failed with HTTP {reply.status} after retries")
        return exc
    code = error.get("code")
    message = quote_platform_message(error.get("message"))
    if code == "ok":
        if 200 <= reply.status < 300:
            return None
        return PlatformBroken(f"TikTok answered HTTP {reply.status} with error code ok")
    by_itself = from_table(CODE_ERRORS, code) if isinstance(code, str) else None
    if by_itself is not None:
        return by_itself
    if code == "rate_limit_exceeded":
        retry_at = retry_after(reply.headers, now) or clamp(now + DEFAULT_RATE_WAIT, now)
        return RateLimited("TikTok rate limit reached", retry_at, limit="TikTok user.info rate limit")
    if code == "internal_error" or reply.status >= 500:
        return PlatformUnavailable("TikTok failed with an internal error after retries")
    if code == "invalid_params":
        # A field TikTok retired is named in the message; drop it rather than fail the account.
        named = [w for w in _FIELD_IN_MESSAGE.findall(message) if w in requested and w in STAT_FIELDS]
        if len(named) == 1:
            return MetricUnavailable(f"TikTok no longer accepts the field {named[0]}", named[0], retired=True)
        return IntegrationBug(f"TikTok rejected our request parameters: {message}")
    return IntegrationBug(f"TikTok error {quote_platform_message(code)}: {message}")


def normalise(body: object, requested: tuple[str, ...] = STAT_FIELDS) -> Normalised:
    """`/v2/user/info/` envelope -> the stats fields as metrics."""
    reply = as_dict(body, "TikTok reply")
    error = as_dict(require(reply, "error", "TikTok reply"), "TikTok error")
    if error.get("code") != "ok":
        raise PlatformBroken("TikTok reply carries an error")
    data = as_dict(require(reply, "data", "TikTok reply"), "TikTok data")
    user = as_dict(require(data, "user", "TikTok data"), "TikTok user")
    out = Normalised(
        handle=optional_str(user.get("username"), "TikTok username")
        or optional_str(user.get("display_name"), "TikTok display_name"),
        platform_account_id=as_str(require(user, "open_id", "TikTok user"), "TikTok open_id"),
    )
    for field in requested:
        if field in STAT_FIELDS:
            # A stats field missing from a reply that was asked for it is unreadable, not zero.
            out.keep(field, user.get(field), f"TikTok {field}")
    out.check_readable("TikTok stats")
    if out.unreadable:
        out.warnings.append(
            f"TikTok sent {', '.join(out.unreadable)} in a form we cannot read; "
            "left out this time (last value kept)"
        )
    return out


def classify_token_reply(reply: Reply, now: datetime) -> PlatformError | None:
    # OAuth errors have their own shape and may come with HTTP 200: read the body.
    body = reply.json_object
    if body is None:
        if reply.status >= 500:
            return PlatformBroken(f"TikTok token endpoint failed with HTTP {reply.status}")
        return PlatformBroken("malformed token reply from TikTok")
    error = body.get("error")
    if isinstance(error, dict):  # the API envelope shape
        return classify(reply, now)
    if error in ("invalid_client", "unauthorized_client"):
        return OperatorActionNeeded(
            "TikTok", "client_config", "TikTok refused our client key when renewing a token"
        )
    if error == "invalid_grant":
        return ReconnectRequired(
            "TikTok refused to renew access (refresh token invalid or revoked); reconnect"
        )
    if error:
        return IntegrationBug(f"TikTok token refresh failed ({quote_platform_message(error)})")
    if reply.status >= 300:
        return PlatformBroken(f"TikTok token endpoint answered HTTP {reply.status}")
    return None


class TikTokAdapter(AdapterBase):
    platform: Platform = "tiktok"
    label: ClassVar[str] = "TikTok"
    refresh_margin: ClassVar[timedelta] = timedelta(minutes=10)

    @property
    def _base(self) -> str:
        return f"{self._config.api_base.rstrip('/')}/{path_segment(self._config.api_version or API_VERSION)}"

    def can_refresh(self, account: AccountRef, credentials: Credentials) -> bool:
        return self._config.can_refresh_tokens and bool(credentials.refresh_token)

    def _refresh(
        self, caller: Caller, account: AccountRef, credentials: Credentials, now: datetime
    ) -> Credentials:
        reply = caller.request(
            "POST",
            f"{self._base}/oauth/token/",
            endpoint="oauth/token",
            data={
                "client_key": self._config.client_id or "",
                "client_secret": self._config.client_secret or "",
                "grant_type": "refresh_token",
                "refresh_token": credentials.refresh_token or "",
            },
            idempotent=False,
        )
        error = classify_token_reply(reply, now)
        if error is not None:
            raise error
        # TikTok's refresh token rotates and says how long it lives; scopes are comma-separated.
        return credentials_from_token_reply(
            credentials,
            now,
            reply.data,
            "TikTok",
            refresh_expires_key="refresh_expires_in",
            scope_separators=",",
        )

    def _read(
        self,
        caller: Caller,
        account: AccountRef,
        context: SyncContext,
        credentials: Credentials,
        now: datetime,
    ) -> FetchResult:
        memory = context.catalog.memory(account)
        stats = tuple(f for f in STAT_FIELDS if f not in memory.skipped())
        profile = ("username",) if PROFILE_SCOPE in credentials.scopes else ()
        rejected: list[str] = []
        headers = {"Authorization": f"Bearer {credentials.access_token}"}
        for _ in range(len(STAT_FIELDS) + 1):
            fields = ",".join((*BASIC_FIELDS, *profile, *stats))
            reply = caller.request(
                "GET",
                f"{self._base}/user/info/",
                endpoint="user/info",
                params={"fields": fields},
                headers=headers,
            )
            error = classify(reply, now, stats)
            if isinstance(error, MetricUnavailable) and error.metric in stats:
                stats = tuple(f for f in stats if f != error.metric)
                rejected.append(error.metric)
                context.catalog.reject(
                    account, RejectedMetric(self.platform, error.metric, error.message, retirement=True)
                )
                continue
            if error is not None:
                raise error
            break
        out = normalise(reply.data, stats)
        warnings = list(out.warnings)
        if rejected:
            warnings.append("TikTok rejected the field(s) " + ", ".join(rejected))
        refused = [f for f in STAT_FIELDS if f in memory.refused and f not in memory.retired]
        if refused:
            warnings.append(f"TikTok refused the field(s) {', '.join(refused)} earlier; last value kept")
        return fetch_result(out, warnings)
