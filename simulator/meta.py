"""Graph API for Instagram (`/instagram`, also Facebook Login's `/facebook`) and Facebook Pages.

Errors are Meta's real bodies, mostly with HTTP 400, so adapters must read the body.

Sources of the reply shapes (checked 2026-12-01; docs/platforms.md, "Simulator reply shapes and
their sources"):
- Instagram node and `total_value` insights: REC v23.0 2026-07-07 report and python-facebook
  `user_fields.json`, `user_insights_new.json`; metric list and `metric[i] must be one of` error:
  the same live v23.0 error; `metric_type=total_value` rule: 3P.
- Facebook Page node: airbyte `initial_record.json` [REC]; daily insights envelope: the Page
  Insights reference (https://developers.facebook.com/docs/graph-api/reference/insights) and its
  2023-04-12 blog [DOC]; reactions per day by type (in `simulator.meta_insights`): Page Insights
  "Daily total post reactions of a page by type" [DOC]; "must be a valid insights metric" and
  3001/1504028: REC v23.0 and DOC.
- Error objects 190/458/460/463, 190 "permission(s) must be granted", 100/33, 2 `is_transient`,
  1/99 HTTP 500, 80001/80002 with `x-business-use-case-usage` and `x-app-usage`: airbyte
  `test_errors.py` TestRealErrors [REC] and the error-handling and rate-limiting guides [DOC].
- `refresh_access_token` reply: refresh_access_token reference [DOC].
- Shapes no source gives byte for byte (`(#200) Requires read_insights permission`, `(#10)
  Application does not have permission for this action` on a node, `(#2635)` ended version): see
  the comments where they are sent; docs/platforms.md lists them as open questions.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.common import bearer_token, maybe_malformed, pause, reply, store_of
from simulator.graph import graph_error, usage_headers
from simulator.meta_insights import instagram_insights, page_insights
from simulator.platform import SimPlatform
from simulator.state import SimAccount, Store
from simulator.versions import GRAPH_VERSIONS, graph_version_served

_VERSION = re.compile(r"^v\d{1,2}\.\d$")

RATE_LIMIT_CODE = {"instagram": 80002, "facebook": 80001}


def rate_limit_error(account: SimAccount, reset_seconds: float) -> Response:
    minutes = max(1, math.ceil(reset_seconds / 60))
    code = RATE_LIMIT_CODE["instagram" if account.platform == "instagram" else "facebook"]
    what = "Instagram account" if code == 80002 else "Page"
    return graph_error(
        f"(#{code}) There have been too many calls to this {what}. Wait a bit and try again. For more info, "
        "please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        code,
        2494055,
        headers=usage_headers(account, blocked_minutes=minutes),
    )


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
        return rate_limit_error(account, float(account.params.get("reset_seconds", 900)))
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
        # "Permission denied"; the wording is a reported try against the live API, checked 2026-12-01).
        return graph_error("(#10) Application does not have permission for this action", 10)
    if scenario == "no_insights_permission" and endpoint == "insights":
        # The Page token lacks read_insights: Page Insights needs it (docs/platforms.md, "Facebook Pages");
        # the (#200) wording is a reported try against the live API, shaped as Meta's 200-299
        # permission errors.
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
    refusal = store.quota.charge(account.platform, account.platform_account_id)
    if refusal is not None:
        return None, rate_limit_error(account, refusal.retry_after)
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
        return maybe_malformed(account, _node_body(account, fields), headers=usage_headers(account))

    return node


def _insights(host: str) -> Any:
    async def insights(request: Request) -> Response:
        account, error = await _authenticate(request, host, "insights")
        if error is not None or account is None:
            return error or reply({}, 500)
        metrics = [m for m in request.query_params.get("metric", "").split(",") if m]
        if account.platform == "instagram":
            return instagram_insights(request, account, metrics)
        return page_insights(request, account, metrics)

    return insights


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


_META_SCENARIOS = (
    "wrong_token_type",
    "lost_access",
    "transient_error",
    "password_changed",
    "app_not_approved",
)

INSTAGRAM = SimPlatform(
    name="instagram",
    routes=lambda: {"/instagram": instagram_routes()},
    default_counters={
        "followers_count": 1520,
        "follows_count": 310,
        "media_count": 87,
        "reach": 4200,
        "views": 12000,
        "accounts_engaged": 380,
        "total_interactions": 950,
        "likes": 700,
        "comments": 120,
        "shares": 45,
        "saves": 60,
        "replies": 25,
        "profile_views": 530,
        "website_clicks": 40,
        "profile_links_taps": 33,
    },
    token_lifetime_seconds=5_184_000,
    scenarios=_META_SCENARIOS,
)
FACEBOOK = SimPlatform(
    name="facebook",
    routes=lambda: {"/facebook": facebook_routes()},
    # Page insights counters are per day; the reply holds one value per day of the window.
    default_counters={
        "fan_count": 270,
        "followers_count": 320,
        "talking_about_count": 2,
        "were_here_count": 0,
        "checkins": 0,
        "page_post_engagements": 12,
        "page_actions_post_reactions_total": 5,
        "page_video_views": 30,
        "page_views_total": 8,
        "page_total_actions": 3,
    },
    token_lifetime_seconds=5_184_000,
    scenarios=(*_META_SCENARIOS, "no_insights_permission"),
)
