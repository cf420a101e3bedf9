"""Instagram professional accounts, through either login flavour.

- Instagram Login (`AccountRef.auth` "instagram" or "default"): `graph.instagram.com`, the
  instagram PlatformConfig. The 60-day token is refreshed silently (no client secret needed)
  when it is within `refresh_margin` of expiry; once expired only a reconnect helps.
- Facebook Login (`auth` "facebook"): `graph.facebook.com`, the facebook PlatformConfig (base URL
  and version); Facebook tokens have no refresh grant.

`follower_count` is the account node's `followers_count` (the insights metric of that name is
a per-day series and not available to small accounts). Period metrics come from `/insights`
with `metric_type=total_value` over the window. `data: []` means "no data yet", never zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

import httpx

from adapters import meta, meta_insights
from adapters.base import AccountRef, Credentials, FetchResult, Platform, PlatformConfig, SyncContext
from adapters.errors import IntegrationBug, PlatformBroken, PlatformError, ReconnectRequired
from adapters.flow import AdapterBase, credentials_after_refresh
from adapters.http import DEFAULT_RETRY, Caller, Reply, RetryPolicy, path_segment
from adapters.values import Normalised, as_count, as_dict, as_list, as_str, optional_str, require
from ops.foundation import platforms as platform_registry

API_VERSION = meta.GRAPH_API_VERSION
NODE_FIELDS = "id,username,followers_count"
METRIC_KEYS: tuple[str, ...] = platform_registry.spec("instagram").metric_keys
# follower_count comes from the account node; every other key is a period metric of /insights.
PERIOD_METRICS: tuple[str, ...] = METRIC_KEYS[1:]
# Counts of unique accounts (reference: "The number of unique accounts ..."), never summed per day.
UNIQUE_METRICS = frozenset({"reach", "accounts_engaged"})
# The insights permission of each login flavour (docs/platforms.md, "Instagram (Graph API, two login
# flavours)": the 10 or 200-299 on /insights row, checked 2026-12-01).
INSIGHTS_PERMISSIONS = {
    "facebook": "instagram_manage_insights",
    "instagram": "instagram_business_manage_insights",
}


def normalise(node: object, insights: Sequence[object], requested: Sequence[str]) -> Normalised:
    """Account node + insights `data` items -> metrics; requested metrics with no data are warned."""
    body = as_dict(node, "Instagram account")
    out = Normalised(
        handle=optional_str(body.get("username"), "Instagram username"),
        platform_account_id=as_str(require(body, "id", "Instagram account"), "Instagram account id"),
    )
    if "followers_count" in body:
        out.keep("follower_count", body["followers_count"], "Instagram followers_count")
    else:
        out.warnings.append("Instagram did not report followers_count")
    meta_insights.collect_insights(
        out,
        insights,
        requested,
        _insight_value,
        "Instagram",
        "data yet",
        "new or small account, or data still being processed",
    )
    if not out.metrics:
        # Not even the follower count: nothing in this reply can be trusted.
        raise PlatformBroken("malformed reply: no Instagram value (not even followers_count) could be read")
    return out


def _insight_value(item: Mapping[str, Any], name: str) -> int | None:
    """`total_value.value` (an integer for the window); `total_value: {}` is "no data".

    With `metric_type=total_value` and no `breakdown`, the reference gives `{"value": N}` (and
    `breakdowns` only when asked for): a value of any other form is unreadable, not guessed at.
    """
    total = item.get("total_value")
    if total is not None:
        total_value = as_dict(total, f"Instagram {name} total_value")
        if "value" not in total_value:
            return None  # `total_value: {}` is Meta's "no data"
        return as_count(total_value["value"], f"Instagram {name}")
    # A time series (should not happen with metric_type=total_value): the window is the sum,
    # except for counts of unique accounts, which can't be added up over days.
    values = as_list(item.get("values", []), f"Instagram {name} values")
    if not values:
        return None
    if name in UNIQUE_METRICS:
        raise PlatformBroken(f"malformed reply: Instagram {name} came per day; unique counts don't add up")
    return sum(
        as_count(as_dict(v, f"Instagram {name} value").get("value"), f"Instagram {name}") for v in values
    )


def classify(
    reply: Reply, now: datetime, requested: Sequence[str] = (), *, edge: str = ""
) -> PlatformError | None:
    """Instagram's replies are Graph API replies: `adapters.meta` classifies them, by body code."""
    return meta.classify(reply, now, label="Instagram", requested_metrics=requested, edge=edge)


class InstagramAdapter(AdapterBase):
    platform: Platform = "instagram"
    label: ClassVar[str] = "Instagram"
    refresh_margin: ClassVar[timedelta] = timedelta(days=7)

    def __init__(
        self,
        instagram: PlatformConfig,
        facebook: PlatformConfig | None,
        client: httpx.Client,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        super().__init__(instagram, client, retry)
        self._instagram = instagram
        self._facebook = facebook

    @classmethod
    def build(
        cls,
        config: PlatformConfig,
        client: httpx.Client,
        retry: RetryPolicy,
        configs: Mapping[Platform, PlatformConfig],
    ) -> Self:
        """The registry's adapter factory; Instagram also takes the Facebook config, for its
        second login flavour (Facebook Login reads graph.facebook.com)."""
        return cls(config, configs.get("facebook"), client, retry)

    def can_refresh(self, account: AccountRef, credentials: Credentials) -> bool:
        # Instagram Login's refresh grant needs only the (unexpired) token itself.
        return account.auth != "facebook"

    def _base(self, account: AccountRef) -> str:
        if account.auth == "facebook":
            if self._facebook is None:
                raise IntegrationBug("Instagram via Facebook Login needs the Facebook platform configuration")
            config = self._facebook
        else:
            config = self._instagram
        return f"{config.api_base.rstrip('/')}/{path_segment(config.api_version or API_VERSION)}"

    def _refresh(
        self, caller: Caller, account: AccountRef, credentials: Credentials, now: datetime
    ) -> Credentials:
        if credentials.expires_at is not None and credentials.expires_at <= now:
            raise ReconnectRequired("Instagram access has expired; reconnect the account")
        reply = caller.request(
            "GET",
            f"{self._instagram.api_base.rstrip('/')}/refresh_access_token",
            endpoint="refresh_access_token",
            # The documented call takes the token in the query; build_http_client mutes URL logging.
            params={"grant_type": "ig_refresh_token", "access_token": credentials.access_token},
            idempotent=False,
        )
        body = meta.check(reply, now, label=self.label)
        token = as_str(require(body, "access_token", "Instagram refresh reply"), "Instagram access_token")
        expires_in = body.get("expires_in")
        return credentials_after_refresh(
            credentials,
            now,
            token,
            as_count(expires_in, "Instagram expires_in") if expires_in is not None else None,
        )

    def _read(
        self,
        caller: Caller,
        account: AccountRef,
        context: SyncContext,
        credentials: Credentials,
        now: datetime,
    ) -> FetchResult:
        get = meta.graph_getter(
            caller, self._base(account), credentials.access_token, account, context, now, self.label
        )
        node_id = account.platform_account_id

        node = get([node_id], {"fields": NODE_FIELDS}, "account")
        memory = context.catalog.memory(account)
        wanted = [m for m in PERIOD_METRICS if m not in memory.skipped()]
        since, until = meta.window(now, context.insights_window_days)

        def insights(metrics: Sequence[str]) -> Sequence[Any]:
            params = {
                "metric": ",".join(metrics),
                "period": "day",
                "metric_type": "total_value",
                "since": str(since),
                "until": str(until),
            }
            body = get([node_id, "insights"], params, "insights", metrics)
            return as_list(require(body, "data", "Instagram insights"), "Instagram insights data")

        outcome = meta_insights.read_insights(insights, wanted)
        denied = outcome.denied
        if denied is not None and denied.permission not in denied.platform_text:
            # The reply names no permission: name the one this login flavour needs.
            flavour = "facebook" if account.auth == "facebook" else "instagram"
            outcome.denied = meta.insights_denied(
                self.label, denied.platform_text, INSIGHTS_PERMISSIONS[flavour]
            )
        read = (
            []
            if outcome.denied
            else [m for m in wanted if m not in outcome.rejected and m not in outcome.unread]
        )
        out = normalise(node, outcome.items, read)
        return meta_insights.insights_result(
            self.label,
            self.platform,
            account,
            context,
            out,
            outcome,
            memory,
            PERIOD_METRICS,
        )
