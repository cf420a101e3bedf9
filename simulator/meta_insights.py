"""Graph insights as the simulated Instagram and Facebook answer them (sources in simulator.meta)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from simulator.common import maybe_malformed
from simulator.graph import graph_error, usage_headers
from simulator.state import SimAccount

# From a live v23.0 error message (docs/platforms.md, "Instagram": the 100 `metric[i] must be one
# of` row).
INSTAGRAM_METRICS = [
    "reach",
    "follower_count",
    "website_clicks",
    "profile_views",
    "online_followers",
    "accounts_engaged",
    "total_interactions",
    "likes",
    "comments",
    "shares",
    "saves",
    "replies",
    "engaged_audience_demographics",
    "reached_audience_demographics",
    "follower_demographics",
    "follows_and_unfollows",
    "profile_links_taps",
    "views",
    "threads_likes",
    "threads_replies",
    "reposts",
    "quotes",
    "threads_followers",
    "threads_follower_demographics",
    "content_views",
    "threads_views",
    "threads_clicks",
    "threads_reposts",
]
TOTAL_VALUE_ONLY = frozenset(
    {
        "views",
        "accounts_engaged",
        "total_interactions",
        "likes",
        "comments",
        "shares",
        "saves",
        "replies",
        "profile_views",
        "website_clicks",
        "profile_links_taps",
        "follows_and_unfollows",
        "reposts",
        "quotes",
    }
)
FACEBOOK_METRICS = frozenset(
    {
        "page_post_engagements",
        "page_actions_post_reactions_total",
        "page_video_views",
        "page_views_total",
        "page_total_actions",
        "page_media_view",
        "page_total_media_view_unique",
        "page_follows",
        "page_daily_follows",
        "page_daily_follows_unique",
        "page_fan_adds_by_paid_non_paid_unique",
    }
)


def _window(request: Request, max_days: int) -> tuple[int, int] | Response:
    try:
        now = int(time.time())
        since = int(request.query_params.get("since", now - 2 * 86400))
        until = int(request.query_params.get("until", now))
    except ValueError:
        return graph_error("(#100) Param since must be a valid unix timestamp", 100)
    if until - since > max_days * 86400:
        return graph_error(
            f"(#100) There cannot be more than {max_days} days ({max_days * 86400} s) between since and until",
            100,
        )
    return since, until


def _retired(account: SimAccount) -> set[str]:
    return {str(account.params.get("metric"))} if account.scenario == "retired_metric" else set()


def instagram_insights(request: Request, account: SimAccount, metrics: list[str]) -> Response:
    if not metrics:
        return graph_error("(#100) The parameter metric is required", 100)
    retired = _retired(account)
    valid = [m for m in INSTAGRAM_METRICS if m not in retired]
    for index, metric in enumerate(metrics):
        if metric not in valid:
            return graph_error(
                f"(#100) metric[{index}] must be one of the following values: {', '.join(valid)}", 100
            )
    if request.query_params.get("period") not in ("day", "lifetime"):
        return graph_error("(#100) The parameter period is required and must be one of day, lifetime", 100)
    needs_total = [m for m in metrics if m in TOTAL_VALUE_ONLY]
    if needs_total and request.query_params.get("metric_type") != "total_value":
        return graph_error(
            f"(#100) The following metrics ({','.join(needs_total)}) should be specified with "
            "parameter metric_type=total_value",
            100,
        )
    window = _window(request, 30)
    if isinstance(window, Response):
        return window
    data = (
        []
        if account.scenario == "no_insights"
        else [
            {
                "name": m,
                "period": "day",
                "title": m.replace("_", " ").capitalize(),
                "description": f"Simulated {m}",
                "total_value": {"value": account.counter(m)},
                "id": f"{account.platform_account_id}/insights/{m}/day",
            }
            for m in metrics
        ]
    )
    return maybe_malformed(account, {"data": data}, headers=usage_headers(account))


def page_insights(request: Request, account: SimAccount, metrics: list[str]) -> Response:
    if not metrics:
        return graph_error(
            "(#100) No metric was specified to be fetched. Please specify one or more metrics to be "
            "fetched and try again.",
            3001,
            1504028,
        )
    valid = FACEBOOK_METRICS - _retired(account)
    if any(m not in valid for m in metrics):
        return graph_error("(#100) The value must be a valid insights metric", 100)
    if request.query_params.get("period", "day") != "day":
        return graph_error("(#100) Invalid period for the requested metrics", 100)
    window = _window(request, 90)
    if isinstance(window, Response):
        return window
    since, until = window
    days = max(0, (until - since) // 86400)
    data = (
        []
        if account.scenario == "no_insights"
        else [
            {
                "name": m,
                "period": "day",
                "values": [
                    {
                        "value": _page_day_value(account, m),
                        "end_time": datetime.fromtimestamp(since + (d + 1) * 86400, UTC).strftime(
                            "%Y-%m-%dT%H:%M:%S+0000"
                        ),
                    }
                    for d in range(days)
                ],
                "title": m.replace("_", " ").capitalize(),
                "description": f"Simulated {m}",
                "id": f"{account.platform_account_id}/insights/{m}/day",
            }
            for m in metrics
        ]
    )
    return maybe_malformed(account, {"data": data}, headers=usage_headers(account))


# "Daily total post reactions of a page by type" (Page Insights reference, Page Reactions; checked
# 2026-12-01): each day's value is an object of counts by reaction type, types with no reaction
# left out. The account's counter is split over these types.
REACTION_TYPES = ("like", "love", "wow", "haha", "sorry", "anger")
BY_TYPE_METRICS = frozenset({"page_actions_post_reactions_total"})


def _page_day_value(account: SimAccount, metric: str) -> int | dict[str, int]:
    value = account.counter(metric)
    if metric not in BY_TYPE_METRICS:
        return value
    split: dict[str, int] = {}
    rest = value
    for kind in REACTION_TYPES[:-1]:
        part = rest // 2
        if part:
            split[kind] = part
        rest -= part
    if rest:
        split[REACTION_TYPES[-1]] = rest
    return split
