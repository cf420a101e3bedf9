"""Facebook Pages, read with a Page access token.

Counters come from the Page node; period metrics from Page Insights (`period=day`), summed over
the window. Facebook tokens have no refresh grant: expiry means reconnect.

Retired metrics are not requested, and their absence is not warned about on every row:
- `page_consumptions` (in docs/contract.md's key set) was removed on 2024-03-14 on all API versions,
  so it never appears in results.
- The 2025-11-15 wave (`page_fans*`, `page_fan_adds*`, `page_impressions*`, `post_impressions*`)
  and the 2026-06-15 wave (`page_impressions_unique*`, `page_posts_impressions*`, ...) were never
  part of our key set.
A metric Facebook rejects later is isolated and remembered for this account (see
`adapters.base.MetricCatalog`); it is skipped platform-wide only once the retirement is confirmed.

How each value is read (Page Insights reference, https://developers.facebook.com/docs/graph-api/
reference/insights, checked 2026-12-01; docs/platforms.md has the table):
- a day's `value` is an integer, summed over the days of the window;
- `page_actions_post_reactions_total` ("Daily total post reactions of a page by type") answers
  each day as an object of counts by reaction type (`{"like": 4, "love": 2}`): summed over types
  and days (a day with no reactions may be `{}`);
- anything else (an object for another metric, a string, a period other than `day`) is left out
  with a warning: one unreadable metric never fails the sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from adapters import meta, meta_insights
from adapters.base import AccountRef, Credentials, FetchResult, Platform, SyncContext
from adapters.errors import PlatformBroken, PlatformError
from adapters.flow import AdapterBase
from adapters.http import Caller, Reply, path_segment
from adapters.values import Normalised, as_count, as_dict, as_list, as_str, optional_str, require
from ops.foundation import platforms as platform_registry

API_VERSION = meta.GRAPH_API_VERSION
NODE_COUNTERS: tuple[str, ...] = ("followers_count", "talking_about_count", "were_here_count", "checkins")
NODE_FIELDS = ",".join(("id", "name", "username", *NODE_COUNTERS))
INSIGHT_METRICS: tuple[str, ...] = (
    "page_post_engagements",
    "page_actions_post_reactions_total",
    "page_video_views",
    "page_views_total",
    "page_total_actions",
)
RETIRED_METRICS: tuple[str, ...] = ("page_consumptions",)
# Metrics whose daily value is an object of counts by type that add up to the day's total.
BY_TYPE_METRICS = frozenset({"page_actions_post_reactions_total"})
METRIC_KEYS: tuple[str, ...] = platform_registry.spec("facebook").metric_keys


def normalise(node: object, insights: Sequence[object], requested: Sequence[str]) -> Normalised:
    """Page node + insights `data` items -> metrics; daily values are summed over the window."""
    body = as_dict(node, "Facebook Page")
    out = Normalised(
        handle=optional_str(body.get("username"), "Facebook Page username")
        or optional_str(body.get("name"), "Facebook Page name"),
        platform_account_id=as_str(require(body, "id", "Facebook Page"), "Facebook Page id"),
    )
    for counter in NODE_COUNTERS:
        # Meta omits fields with no value instead of sending null or 0.
        if counter in body:
            out.keep(counter, body[counter], f"Facebook {counter}")
    missing_counters = [c for c in NODE_COUNTERS if c not in out.metrics and c not in out.unreadable]
    if missing_counters:
        out.warnings.append("Facebook did not report " + ", ".join(missing_counters))
    meta_insights.collect_insights(
        out,
        insights,
        requested,
        _daily_sum,
        "Facebook",
        "insights data",
        "Pages need 100+ likes; data lags a day",
    )
    if out.unreadable and not any(c in out.metrics for c in NODE_COUNTERS):
        # No Page counter and unreadable insights: nothing in this reply can be trusted.
        raise PlatformBroken("malformed reply: Facebook Page and insights values could not be read")
    return out


def _daily_sum(item: Mapping[str, Any], name: str) -> int | None:
    period = item.get("period", "day")
    if period != "day":
        # A lifetime (or week) value can't be added up over the window's days.
        raise PlatformBroken(f"malformed reply: Facebook {name} has period {period!r}, not day")
    values = as_list(item.get("values", []), f"Facebook {name} values")
    if not values:
        return None
    total = sum(_day_value(as_dict(v, f"Facebook {name} value").get("value"), name) for v in values)
    return as_count(total, f"Facebook {name} total")


def _day_value(value: object, name: str) -> int:
    if isinstance(value, Mapping) and name in BY_TYPE_METRICS:
        return sum(as_count(count, f"Facebook {name} {kind}") for kind, count in value.items())
    return as_count(value, f"Facebook {name}")


def classify(
    reply: Reply, now: datetime, requested: Sequence[str] = (), *, edge: str = ""
) -> PlatformError | None:
    """Facebook's replies are Graph API replies: `adapters.meta` classifies them, by body code."""
    return meta.classify(reply, now, label="Facebook", requested_metrics=requested, edge=edge)


class FacebookAdapter(AdapterBase):
    platform: Platform = "facebook"
    label: ClassVar[str] = "Facebook"

    def can_refresh(self, account: AccountRef, credentials: Credentials) -> bool:
        return False  # no refresh grant for user or Page tokens (docs/platforms.md, "Facebook Pages": Tokens)

    def _read(
        self,
        caller: Caller,
        account: AccountRef,
        context: SyncContext,
        credentials: Credentials,
        now: datetime,
    ) -> FetchResult:
        base = f"{self._config.api_base.rstrip('/')}/{path_segment(self._config.api_version or API_VERSION)}"
        get = meta.graph_getter(caller, base, credentials.access_token, account, context, now, self.label)
        page_id = account.platform_account_id

        node = get([page_id], {"fields": NODE_FIELDS}, "page")
        memory = context.catalog.memory(account)
        wanted = [m for m in INSIGHT_METRICS if m not in memory.skipped()]
        since, until = meta.window(now, context.insights_window_days)

        def insights(metrics: Sequence[str]) -> Sequence[Any]:
            params = {"metric": ",".join(metrics), "period": "day", "since": str(since), "until": str(until)}
            body = get([page_id, "insights"], params, "insights", metrics)
            return as_list(require(body, "data", "Facebook insights"), "Facebook insights data")

        outcome = meta_insights.read_insights(insights, wanted)
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
            INSIGHT_METRICS,
        )
