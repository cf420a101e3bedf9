"""LinkedIn (Community Management API, versioned REST under `/rest`).

Every call sends `LinkedIn-Version` (the pinned `API_VERSION`, overridable by config) and
`X-Restli-Protocol-Version: 2.0.0`; query values use Rest.li 2.0 syntax with URL-encoded URNs.

Accounts (`AccountRef.platform_account_id`):
- an organization, given as `urn:li:organization:ID` or the bare numeric `ID`; results report it
  as `urn:li:organization:ID`. Three calls: `networkSizes` (total followers), time-bound
  `organizationalEntityFollowerStatistics` (gains) and `organizationPageStatistics`, both over
  the window at DAY granularity and summed.
- a member, given as `urn:li:person:ID`: one call, `memberFollowersCount?q=me`, which needs the
  `r_member_profileAnalytics` scope (the API reads the token's member, not the id).

Keys (docs/contract.md 3): `follower_statistics_` / `page_statistics_` + the snake_case path of each
integer leaf; arrays are not flattened. Quotas are daily and reset at midnight UTC.
Refresh tokens exist only for approved partners, are not rotated, and live 365 days in total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from adapters.base import AccountRef, Credentials, FetchResult, Platform, SyncContext
from adapters.classification import StatusTable, from_table
from adapters.errors import (
    InsightsDenied,
    IntegrationBug,
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
from adapters.limits import next_midnight_utc, retry_after
from adapters.linkedin_statistics import (
    FOLLOWERS_PREFIX,
    PAGES_PREFIX,
    normalise_member,
    normalise_organization,
)
from adapters.values import (
    quote_platform_message,
)
from ops.foundation import platforms as platform_registry
from ops.foundation.platforms import PinnedVersion

__all__ = [
    "FOLLOWERS_PREFIX",
    "PAGES_PREFIX",
    "LinkedInAdapter",
    "normalise_member",
    "normalise_organization",
]

# The pinned version and its sunset live in the registry (their sources are cited there).
PINNED: PinnedVersion = platform_registry.LINKEDIN_API
API_VERSION = PINNED.version
RESTLI_PROTOCOL_VERSION = "2.0.0"
DEFAULT_OAUTH_BASE = "https://www.linkedin.com"


@dataclass(frozen=True)
class LinkedInEntity:
    kind: Literal["organization", "person"]
    id: str

    @property
    def urn(self) -> str:
        return f"urn:li:{self.kind}:{self.id}"


def parse_account_id(value: str) -> LinkedInEntity:
    """`123` or `urn:li:organization:123` -> organization 123; `urn:li:person:abc` -> member."""
    value = value.strip()
    if value.isdigit():
        return LinkedInEntity("organization", value)
    for kind in ("organization", "person"):
        prefix = f"urn:li:{kind}:"
        rest = value.removeprefix(prefix)
        if value.startswith(prefix) and rest and ":" not in rest and "/" not in rest:
            if kind == "organization" and not rest.isdigit():
                break
            return LinkedInEntity(kind, rest)
    raise IntegrationBug(
        "LinkedIn account id must be urn:li:organization:ID, its numeric ID, or urn:li:person:ID"
    )


STATISTICS_ENDPOINTS = frozenset({"organizationalEntityFollowerStatistics", "organizationPageStatistics"})
STATISTICS_WARNING = (
    "LinkedIn follower and page statistics unavailable: reconnect as a Page administrator "
    "and grant rw_organization_admin."
)
# A 403 naming the application or a product is the app's access, not the member's grant.
_APP_MARKERS = ("application", "partner", "product", "not provisioned")


# The statuses whose meaning needs no body (docs/platforms.md, "LinkedIn (Community Management API,
# `/rest`)": the 426 row).
STATUS_ERRORS: StatusTable = {
    426: lambda: OperatorActionNeeded(
        "LinkedIn",
        "api_version",
        "LinkedIn no longer serves our API version; bump DRAVO_LINKEDIN_API_VERSION",
    ),
}


def classify(
    reply: Reply, now: datetime, requested: Sequence[str] = (), *, edge: str = ""
) -> PlatformError | None:
    """None for a usable 2xx JSON object; otherwise the error this reply means.

    `edge` is the adapter's name of the call: a permission refusal of a statistics endpoint
    leaves the account's basic read (networkSizes) standing. `requested` is unused: LinkedIn
    names no field it refuses.
    """
    endpoint = edge
    body = reply.json_object or {}
    status = reply.status
    service_code, code = body.get("serviceErrorCode"), body.get("code")
    if 200 <= status < 300:
        return (
            None
            if reply.json_object is not None
            else PlatformBroken("malformed reply from LinkedIn: not a JSON object")
        )
    by_itself = from_table(STATUS_ERRORS, status)
    if by_itself is not None:
        return by_itself
    if status == 401:
        if service_code == 65602 or code == "EXPIRED_ACCESS_TOKEN":
            return TokenExpired("LinkedIn access token expired")
        if service_code == 65601 or code == "REVOKED_ACCESS_TOKEN":
            return ReconnectRequired("LinkedIn access was revoked by the member; reconnect the account")
        return ReconnectRequired("LinkedIn rejected the access token; reconnect the account")
    if status == 403:
        text = quote_platform_message(body.get("message"))
        if any(marker in text.lower() for marker in _APP_MARKERS):
            return OperatorActionNeeded(
                "LinkedIn", "app_product", f"the app lacks a LinkedIn product: {text}"
            )
        if endpoint in STATISTICS_ENDPOINTS:
            return InsightsDenied(f"LinkedIn refused {endpoint}", "rw_organization_admin", STATISTICS_WARNING)
        return ReconnectRequired(
            "LinkedIn denied access (missing scope or ADMINISTRATOR role); reconnect with the right permissions"
        )
    if status == 400 and code in ("VERSION_MISSING", "NONEXISTENT_VERSION"):
        return STATUS_ERRORS[426]()
    if status == 429:
        retry_at = retry_after(reply.headers, now) or next_midnight_utc(now)
        return RateLimited("LinkedIn daily quota reached", retry_at, limit="LinkedIn daily quota")
    if status >= 500:
        return PlatformUnavailable(f"LinkedIn failed with HTTP {status} after retries")
    return IntegrationBug(
        f"LinkedIn rejected our request (HTTP {status}): {quote_platform_message(body.get('message'))}"
    )


def classify_token_reply(reply: Reply) -> PlatformError | None:
    body = reply.json_object or {}
    if 200 <= reply.status < 300 and "error" not in body:
        return (
            None if reply.json_object is not None else PlatformBroken("malformed token reply from LinkedIn")
        )
    if body.get("error") in ("invalid_request", "invalid_grant") or reply.status == 400:
        return ReconnectRequired(
            "LinkedIn refused to renew access (refresh token invalid or expired); reconnect"
        )
    if reply.status >= 500:
        return PlatformBroken(f"LinkedIn token endpoint failed with HTTP {reply.status}")
    return IntegrationBug(f"LinkedIn token refresh failed (HTTP {reply.status})")


def time_intervals(now: datetime, days: int) -> str:
    end = int(now.timestamp() * 1000)
    start = end - max(1, min(days, 30)) * 86_400_000
    return f"(timeRange:(start:{start},end:{end}),timeGranularityType:DAY)"


class LinkedInAdapter(AdapterBase):
    platform: Platform = "linkedin"
    label: ClassVar[str] = "LinkedIn"
    refresh_margin: ClassVar[timedelta] = timedelta(days=7)

    def can_refresh(self, account: AccountRef, credentials: Credentials) -> bool:
        if not (self._config.can_refresh_tokens and credentials.refresh_token):
            return False
        lapses = credentials.refresh_expires_at
        return lapses is None or lapses > datetime.now(UTC)

    def _refresh(
        self, caller: Caller, account: AccountRef, credentials: Credentials, now: datetime
    ) -> Credentials:
        oauth_base = (self._config.oauth_base or DEFAULT_OAUTH_BASE).rstrip("/")
        reply = caller.request(
            "POST",
            f"{oauth_base}/oauth/v2/accessToken",
            endpoint="oauth/v2/accessToken",
            data={
                "grant_type": "refresh_token",
                "refresh_token": credentials.refresh_token or "",
                "client_id": self._config.client_id or "",
                "client_secret": self._config.client_secret or "",
            },
            idempotent=False,
        )
        error = classify_token_reply(reply)
        if error is not None:
            raise error
        # LinkedIn scopes come space- or comma-separated depending on the grant.
        return credentials_from_token_reply(
            credentials,
            now,
            reply.data,
            "LinkedIn",
            refresh_expires_key="refresh_token_expires_in",
            scope_separators=" ,",
        )

    def _read(
        self,
        caller: Caller,
        account: AccountRef,
        context: SyncContext,
        credentials: Credentials,
        now: datetime,
    ) -> FetchResult:
        entity = parse_account_id(account.platform_account_id)
        base = f"{self._config.api_base.rstrip('/')}/rest"
        headers = {
            "Authorization": f"Bearer {credentials.access_token}",
            "LinkedIn-Version": self._config.api_version or API_VERSION,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL_VERSION,
        }

        def get(url: str, endpoint: str) -> Any:
            # The query is pre-encoded: Rest.li 2.0 wants its parentheses and colons as they are.
            reply = caller.request("GET", url, endpoint=endpoint, headers=headers)
            error = classify(reply, now, edge=endpoint)
            if error is not None:
                raise error
            return reply.data

        denied: list[InsightsDenied] = []

        def statistics(url: str, endpoint: str) -> Any:
            try:
                return get(url, endpoint)
            except InsightsDenied as exc:
                denied.append(exc)
                return None

        if entity.kind == "person":
            out = normalise_member(
                get(f"{base}/memberFollowersCount?q=me", "memberFollowersCount"), entity.urn
            )
        else:
            urn = path_segment(entity.urn)
            window = time_intervals(now, context.insights_window_days)
            network = get(f"{base}/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER", "networkSizes")
            gains = statistics(
                f"{base}/organizationalEntityFollowerStatistics?q=organizationalEntity"
                f"&organizationalEntity={urn}&timeIntervals={window}",
                "organizationalEntityFollowerStatistics",
            )
            pages = statistics(
                f"{base}/organizationPageStatistics?q=organization&organization={urn}&timeIntervals={window}",
                "organizationPageStatistics",
            )
            out = normalise_organization(network, gains, pages, entity.urn)
            if denied:
                out.warnings.append(denied[0].warning)
        out.handle = account.handle  # the statistics carry no name: keep the one we were given
        return fetch_result(out)
