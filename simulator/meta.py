"""Graph API for Instagram (`/instagram`, also Facebook Login's `/facebook`) and Facebook Pages.

Errors are Meta's real bodies, mostly with HTTP 400, so adapters must read the body.

Sources of the reply shapes (checked 2026-12-01; section numbers are the shared platforms.md):
- Instagram node and `total_value` insights: REC v23.0 2026-07-07 report and python-facebook
  `user_fields.json`, `user_insights_new.json` (1.2, 1.5); metric list and `metric[i] must be one
  of` error: the same live v23.0 error (1.3, 1.4); `metric_type=total_value` rule: 3P (1.3).
- Facebook Page node: airbyte `initial_record.json` [REC] (2.1); daily insights envelope: the
  Page Insights reference and its 2023-04-12 blog [DOC] (2.2); reactions per day by type: Page
  Insights "Daily total post reactions of a page by type" [DOC]; "must be a valid insights
  metric" and 3001/1504028: REC v23.0 and DOC (2.2, 2.3).
- Error objects 190/458/460/463, 190 "permission(s) must be granted", 100/33, 2 `is_transient`,
  1/99 HTTP 500, 80001/80002 with `x-business-use-case-usage` and `x-app-usage`: airbyte
  `test_errors.py` TestRealErrors [REC] and the error-handling and rate-limiting guides [DOC] (4.1, 4.2).
- `refresh_access_token` reply: refresh_access_token reference [DOC] (4.4).
- Issue 10's shapes (`(#200) Requires read_insights permission`, `(#10) Application does not have
  permission for this action` on a node, `(#2635)` ended version): see the comments where they are
  sent; docs/platforms.md lists their open questions.
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.facebook import API_VERSION as FACEBOOK_API_VERSION
from adapters.instagram import API_VERSION as INSTAGRAM_API_VERSION
from simulator.common import bearer_token, maybe_malformed, pause, reply, store_of
from simulator.state import SimAccount, Store
from simulator.versions import GRAPH_VERSIONS, graph_version_served

PINNED_VERSIONS = {"instagram": INSTAGRAM_API_VERSION, "facebook": FACEBOOK_API_VERSION}
_VERSION = re.compile(r"^v\d{1,2}\.\d$")

# From a live v23.0 error message (platforms.md 1.4).
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
RATE_LIMIT_CODE = {"instagram": 80002, "facebook": 80001}


def graph_error(
    message: str,
    code: int,
    subcode: int | None = None,
    *,
    status: int = 400,
    kind: str = "OAuthException",
    transient: bool | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    error["fbtrace_id"] = "AsimFbTrace" + str(int(time.time() * 1000) % 100000)
    return reply({"error": error}, status, headers)


def _usage_headers(account: SimAccount, *, blocked_minutes: int = 0) -> dict[str, str]:
    kind = "instagram" if account.platform == "instagram" else "pages"
    usage = 100 if blocked_minutes else 1
    entry = {
        "type": kind,
        "call_count": usage,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": blocked_minutes,
    }
    headers = {"x-business-use-case-usage": json.dumps({account.platform_account_id: [entry]})}
    if account.platform == "facebook":
        headers["x-app-usage"] = json.dumps({"call_count": usage, "total_time": 1, "total_cputime": 1})
    return headers


def _scenario_error(account: SimAccount, endpoint: str) -> Response | None:
    scenario = account.scenario
    if account.access_expired():
        return graph_error(
            "Error validating access token: Session has expired on Thursday, 10-Dec-15 04:00:00 PST. "
            "The current time is Thursday, 10-Dec-15 20:23:54 PST.",
            190,
            463,
        )
    if scenario == "revoked_token":
        return graph_error(
            "Error validating access token: The user has not authorized application 2586347315015828.",
            190,
            458,
        )
    if scenario == "password_changed":
        return graph_error(
            "Error validating access token: The session has been invalidated because the user changed their "
            "password or Facebook has changed the session for security reasons",
            190,
            460,
        )
    if scenario == "lost_access":
        return graph_error(
            f"Unsupported get request. Object with ID '{account.platform_account_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation. Please read the Graph API "
            "documentation at https://developers.facebook.com/docs/graph-api",
            100,
            33,
            kind="GraphMethodException",
        )
    if scenario == "transient_error":
        return graph_error("(#2) Service temporarily unavailable", 2, transient=True)
    if scenario == "rate_limited":
        minutes = max(1, math.ceil(float(account.params.get("reset_seconds", 900)) / 60))
        code = RATE_LIMIT_CODE["instagram" if account.platform == "instagram" else "facebook"]
        what = "Instagram account" if code == 80002 else "Page"
        return graph_error(
            f"(#{code}) There have been too many calls to this {what}. Wait a bit and try again. For more info, "
            "please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            code,
            2494055,
            headers=_usage_headers(account, blocked_minutes=minutes),
        )
    if scenario == "missing_permission":
        if account.platform == "facebook":
            return graph_error(
                "Any of the pages_read_engagement, pages_manage_metadata,\n        pages_read_user_content, "
                "pages_manage_ads, pages_show_list or\n        pages_messaging permission(s) must be granted "
                "before impersonating a\n        user's page.",
                190,
            )
        if endpoint == "insights":
            return graph_error("(#10) Application does not have permission for this action", 10)
    if scenario == "app_not_approved" and endpoint != "insights":
        # The app lacks Advanced Access for the basic read (Meta error table: code 10
        # "Permission denied"; the wording is the seed issue's, checked 2026-12-01).
        return graph_error("(#10) Application does not have permission for this action", 10)
    if scenario == "no_insights_permission" and endpoint == "insights":
        # The Page token lacks read_insights: Page Insights needs it (platforms.md 2.2); the
        # (#200) wording is the issue's outside try, shaped as Meta's 200-299 permission errors.
        return graph_error("(#200) Requires read_insights permission", 200, status=403)
    if scenario == "wrong_token_type" and endpoint == "insights":
        return graph_error("(#190) This method must be called with a Page Access Token", 190)
    return None


async def _authenticate(request: Request, host: str, kind: str) -> tuple[SimAccount | None, Response | None]:
    store = store_of(request)
    token = bearer_token(request, "Bearer", "OAuth") or request.query_params.get("access_token")
    platforms = ("instagram",) if host == "instagram" else ("facebook", "instagram")
    account = store.by_access_token(platforms, token) if token else None
    endpoint = kind
    if account is not None:
        if kind == "node":
            endpoint = "account" if account.platform == "instagram" else "page"
        store.count(account.platform, account.platform_account_id, endpoint)
    else:
        store.count(host, "_unknown", endpoint)
    await pause(store, account)
    version = request.path_params.get("version", "")
    if not _VERSION.match(version):
        return None, graph_error(f"Unknown path components: /{version}", 2500)
    if not graph_version_served(version):
        # By the calendar (simulator.versions): a version not yet released is unknown to Graph;
        # one past its end is refused with Meta's deprecated-version error (#2635, Marketing API
        # versioning guide, checked 2026-12-01).
        if version not in GRAPH_VERSIONS or GRAPH_VERSIONS[version][0] > datetime.now(UTC).date():
            return None, graph_error(f"(#2500) Unknown path components: /{version}", 2500)
        newest = max(GRAPH_VERSIONS, key=lambda v: GRAPH_VERSIONS[v][0])
        return None, graph_error(
            f"(#2635) You are calling a deprecated version of the Graph API. Please update to the latest "
            f"version: {newest}.",
            2635,
        )
    if token is None:
        return None, graph_error(
            "An active access token must be used to query information about the current user.", 2500
        )
    if account is None:
        return None, graph_error("Invalid OAuth access token - Cannot parse access token", 190)
    if store.take_failure(account):
        return None, graph_error("An unknown error occurred", 1, 99, status=500)
    error = _scenario_error(account, endpoint)
    if error is not None:
        return None, error
    node_id = request.path_params["node_id"]
    if node_id not in (account.platform_account_id, "me"):
        return None, graph_error(
            f"Unsupported get request. Object with ID '{node_id}' does not exist, cannot be loaded due to missing "
            "permissions, or does not support this operation.",
            100,
            33,
            kind="GraphMethodException",
        )
    return account, None


def _node_body(account: SimAccount, fields: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": account.platform_account_id}
    for field in fields:
        if field in ("username",):
            body[field] = account.handle
        elif field == "name":
            body[field] = account.handle.replace(".", " ").title()
        elif (
            account.platform == "instagram" and field in ("followers_count", "follows_count", "media_count")
        ) or (
            account.platform == "facebook"
            and field
            in (
                "fan_count",
                "followers_count",
                "talking_about_count",
                "were_here_count",
                "checkins",
            )
        ):
            body[field] = account.counter(field)
    return body


def _node(host: str) -> Any:
    async def node(request: Request) -> Response:
        account, error = await _authenticate(request, host, "node")
        if error is not None or account is None:
            return error or reply({}, 500)
        fields = [f for f in request.query_params.get("fields", "id,username").split(",") if f]
        return maybe_malformed(account, _node_body(account, fields), headers=_usage_headers(account))

    return node


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


def _insights(host: str) -> Any:
    async def insights(request: Request) -> Response:
        account, error = await _authenticate(request, host, "insights")
        if error is not None or account is None:
            return error or reply({}, 500)
        metrics = [m for m in request.query_params.get("metric", "").split(",") if m]
        if account.platform == "instagram":
            return _instagram_insights(request, account, metrics)
        return _page_insights(request, account, metrics)

    return insights


def _retired(account: SimAccount) -> set[str]:
    return {str(account.params.get("metric"))} if account.scenario == "retired_metric" else set()


def _instagram_insights(request: Request, account: SimAccount, metrics: list[str]) -> Response:
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
    return maybe_malformed(account, {"data": data}, headers=_usage_headers(account))


def _page_insights(request: Request, account: SimAccount, metrics: list[str]) -> Response:
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
    return maybe_malformed(account, {"data": data}, headers=_usage_headers(account))


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


async def refresh_access_token(request: Request) -> Response:
    """Instagram Login's refresh: GET /refresh_access_token?grant_type=ig_refresh_token&access_token=..."""
    store: Store = store_of(request)
    token = request.query_params.get("access_token") or bearer_token(request) or ""
    account = store.by_access_token(("instagram",), token)
    store.count("instagram", account.platform_account_id if account else "_unknown", "refresh_access_token")
    await pause(store, account)
    if request.query_params.get("grant_type") != "ig_refresh_token":
        return graph_error("Unsupported grant_type", 100)
    if account is None:
        return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
    error = _scenario_error(account, "refresh_access_token")
    if error is not None:
        return error
    store.issue(account, rotate_refresh=False)
    return reply({"access_token": account.access_token, "token_type": "bearer", "expires_in": 5_184_000})


def instagram_routes() -> list[Route]:
    return [
        Route("/refresh_access_token", refresh_access_token),
        Route("/{version}/{node_id}", _node("instagram")),
        Route("/{version}/{node_id}/insights", _insights("instagram")),
    ]


def facebook_routes() -> list[Route]:
    return [
        Route("/{version}/{node_id}", _node("facebook")),
        Route("/{version}/{node_id}/insights", _insights("facebook")),
    ]
