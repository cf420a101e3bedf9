"""LinkedIn versioned REST under `/linkedin/rest`, and its OAuth host under `/linkedin-oauth`.

Requests must carry `LinkedIn-Version` (YYYYMM, served by the calendar from the platform's
published sunsets in `simulator.versions`, else 426 NONEXISTENT_VERSION) and
`X-Restli-Protocol-Version: 2.0.0`; `timeIntervals` must use Rest.li 2.0 syntax. Refresh tokens
are not rotated.

Sources of the reply shapes (checked 2026-12-01; docs/platforms.md, "Simulator reply shapes and
their sources"):
- `networkSizes`, follower statistics (`followerGains` singular `...Gain`), page statistics
  (`totalPageStatistics.views.*.pageViews`, `uniquePageViews`, clicks): learn.microsoft.com
  follower-statistics and page-statistics pages [DOC], airbyte source-linkedin-pages
  `expected_records.jsonl` [REC] and `page_statistics.json` schema.
- `memberFollowersCount`: members/follower-statistics page [DOC].
- Error bodies 401 65600/65601/65602, 403 `ACCESS_DENIED`, 429 101, 426 `NONEXISTENT_VERSION`:
  LinkedIn "Error Handling" guide [DOC] and the 3P reports docs/platforms.md quotes (403, 426).
- Token endpoint replies and `invalid_request`: programmatic-refresh-tokens page [DOC].
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.linkedin import API_VERSION, RESTLI_PROTOCOL_VERSION
from simulator.common import bearer_token, maybe_malformed, pause, reply, store_of
from simulator.platform import SimPlatform
from simulator.state import SimAccount
from simulator.versions import linkedin_version_served

DAY_MS = 86_400_000
_INTERVALS = re.compile(
    r"^\(timeRange:\(start:(?P<start>\d+),end:(?P<end>\d+)\),timeGranularityType:(?P<granularity>DAY|WEEK|MONTH)\)$"
)
ORG_SCOPE = "rw_organization_admin"
MEMBER_SCOPE = "r_member_profileAnalytics"


def error(status: int, message: str, service_code: int | None = None, code: str | None = None) -> Response:
    body: dict[str, Any] = {"status": status}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    if code is not None:
        body["code"] = code
    body["message"] = message
    return reply(body, status)


def version_error(request: Request) -> Response | None:
    version = request.headers.get("linkedin-version")
    if not version:
        return error(
            400,
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            code="VERSION_MISSING",
        )
    if not linkedin_version_served(version):
        # By the calendar, as LinkedIn does (docs/platforms.md, "LinkedIn": Version): sunset or not yet
        # released.
        return error(426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION")
    if request.headers.get("x-restli-protocol-version") != RESTLI_PROTOCOL_VERSION:
        return error(400, "Invalid query parameters passed to request", code="ILLEGAL_ARGUMENT")
    return None


def _scenario_error(account: SimAccount, endpoint: str, scope: str) -> Response | None:
    if account.access_expired():
        return error(401, "The token used in the request has expired", 65602, "EXPIRED_ACCESS_TOKEN")
    if account.scenario == "revoked_token":
        return error(
            401, "The token used in the request has been revoked by the user", 65601, "REVOKED_ACCESS_TOKEN"
        )
    if account.scenario == "invalid_token":
        return error(401, "Invalid access token", 65600)
    if account.scenario == "no_statistics_permission" and endpoint != "networkSizes":
        # The member may read the follower count but not the statistics (e.g. not an
        # ADMINISTRATOR): the 403 shape docs/platforms.md quotes (LinkedIn, the 403 on
        # statistics row), on those endpoints only.
        return error(
            403, f"Not enough permissions to access: {endpoint}.GET.{API_VERSION}", 100, "ACCESS_DENIED"
        )
    if account.scenario == "missing_permission" or not account.has_scope(scope):
        return error(
            403, f"Not enough permissions to access: {endpoint}.GET.{API_VERSION}", 100, "ACCESS_DENIED"
        )
    if account.scenario == "rate_limited":
        return error(429, "Resource level throttle limit for calls to this resource is reached.", 101)
    return None


async def _begin(request: Request, endpoint: str, scope: str) -> tuple[SimAccount | None, Response | None]:
    store = store_of(request)
    token = bearer_token(request)
    account = store.by_access_token(("linkedin",), token) if token else None
    store.count("linkedin", account.platform_account_id if account else "_unknown", endpoint)
    await pause(store, account)
    if token is None:
        return None, error(401, "Empty oauth2_access_token", 401)
    if account is None:
        return None, error(401, "Invalid access token", 65600)
    if store.quota.charge("linkedin", account.platform_account_id) is not None:
        return account, error(
            429, "Resource level throttle limit for calls to this resource is reached.", 101
        )
    failure = version_error(request)
    if failure is None and store.take_failure(account):
        failure = error(500, "Internal Server Error")
    return account, failure or _scenario_error(account, endpoint, scope)


def _organization_error(account: SimAccount, urn: str | None) -> Response | None:
    if urn != account.platform_account_id:
        return error(
            403,
            f"Viewer don't have permission to the ADMIN_ONLY VisibilityReduction for {urn}",
            100,
            "ACCESS_DENIED",
        )
    return None


def _days(request: Request) -> tuple[int, int] | Response:
    raw = request.query_params.get("timeIntervals")
    match = _INTERVALS.match(raw or "")
    if match is None or match["granularity"] != "DAY":
        return error(400, "Invalid value for param timeIntervals", code="ILLEGAL_ARGUMENT")
    start, end = int(match["start"]), int(match["end"])
    if end <= start:
        return error(400, "timeRange end must be after start", code="ILLEGAL_ARGUMENT")
    return start, min((end - start) // DAY_MS, 366)


async def network_sizes(request: Request) -> Response:
    account, failure = await _begin(request, "networkSizes", ORG_SCOPE)
    if failure is not None or account is None:
        return failure or reply({}, 500)
    if request.query_params.get("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER":
        return error(400, "Invalid value for param edgeType", code="ILLEGAL_ARGUMENT")
    denied = _organization_error(account, request.path_params["urn"])
    if denied is not None:
        return denied
    return maybe_malformed(account, {"firstDegreeSize": account.counter("first_degree_size")})


def _elements(request: Request, account: SimAccount, build: Any) -> Response:
    window = _days(request)
    if isinstance(window, Response):
        return window
    start, days = window
    elements = (
        []
        if account.scenario == "no_insights"
        else [build({"start": start + d * DAY_MS, "end": start + (d + 1) * DAY_MS}) for d in range(days)]
    )
    return maybe_malformed(account, {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements})


async def follower_statistics(request: Request) -> Response:
    endpoint = "organizationalEntityFollowerStatistics"
    account, failure = await _begin(request, endpoint, ORG_SCOPE)
    if failure is not None or account is None:
        return failure or reply({}, 500)
    if request.query_params.get("q") != "organizationalEntity":
        return error(400, "Invalid finder", code="ILLEGAL_ARGUMENT")
    urn = request.query_params.get("organizationalEntity")
    denied = _organization_error(account, urn)
    if denied is not None:
        return denied
    return _elements(
        request,
        account,
        lambda time_range: {
            "timeRange": time_range,
            "followerGains": {
                "organicFollowerGain": account.counter("organic_follower_gain"),
                "paidFollowerGain": account.counter("paid_follower_gain"),
            },
            "organizationalEntity": urn,
        },
    )


def _page_statistics(account: SimAccount) -> dict[str, Any]:
    desktop, mobile = account.counter("desktop_page_views"), account.counter("mobile_page_views")
    return {
        "views": {
            "allPageViews": {
                "pageViews": desktop + mobile,
                "uniquePageViews": account.counter("unique_page_views"),
            },
            "allDesktopPageViews": {"pageViews": desktop},
            "allMobilePageViews": {"pageViews": mobile},
            "careersPageViews": {"pageViews": account.counter("careers_page_views")},
            "aboutPageViews": {"pageViews": account.counter("about_page_views")},
        },
        "clicks": {
            "careersPageClicks": {"careersPageJobsClicks": account.counter("careers_page_jobs_clicks")},
            "desktopCustomButtonClickCounts": [{"customButtonType": "VISIT_WEBSITE", "clicks": 1}],
            "mobileCustomButtonClickCounts": [],
        },
    }


async def page_statistics(request: Request) -> Response:
    account, failure = await _begin(request, "organizationPageStatistics", ORG_SCOPE)
    if failure is not None or account is None:
        return failure or reply({}, 500)
    if request.query_params.get("q") != "organization":
        return error(400, "Invalid finder", code="ILLEGAL_ARGUMENT")
    urn = request.query_params.get("organization")
    denied = _organization_error(account, urn)
    if denied is not None:
        return denied
    return _elements(
        request,
        account,
        lambda time_range: {
            "organization": urn,
            "timeRange": time_range,
            "totalPageStatistics": _page_statistics(account),
        },
    )


async def member_followers_count(request: Request) -> Response:
    account, failure = await _begin(request, "memberFollowersCount", MEMBER_SCOPE)
    if failure is not None or account is None:
        return failure or reply({}, 500)
    if request.query_params.get("q") != "me":
        return error(400, "Invalid finder", code="ILLEGAL_ARGUMENT")
    body = {
        "elements": [{"memberFollowersCount": account.counter("member_followers_count")}],
        "paging": {"count": 10, "start": 0, "links": []},
    }
    return maybe_malformed(account, body)


async def access_token(request: Request) -> Response:
    store = store_of(request)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
    account = store.by_refresh_token("linkedin", form.get("refresh_token", ""))
    store.count("linkedin", account.platform_account_id if account else "_unknown", "oauth/v2/accessToken")
    await pause(store, account)
    if not form.get("client_id") or not form.get("client_secret"):
        return reply({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
    if form.get("grant_type") != "refresh_token":
        return reply(
            {"error": "unsupported_grant_type", "error_description": "Grant type is not supported"}, 400
        )
    lapsed = (
        account is not None
        and account.refresh_expires_at is not None
        and time.time() >= account.refresh_expires_at
    )
    if account is None or account.scenario == "revoked_token" or lapsed:
        return reply(
            {
                "error": "invalid_request",
                "error_description": "The provided authorization grant or refresh "
                "token is invalid, expired or revoked",
            },
            400,
        )
    store.issue(account, rotate_refresh=False)
    remaining = int(account.refresh_expires_at - time.time()) if account.refresh_expires_at else 31_536_000
    return reply(
        {
            "access_token": account.access_token,
            "expires_in": 5_184_000,
            "refresh_token": account.refresh_token,
            "refresh_token_expires_in": remaining,
            "scope": ",".join(account.scopes) or f"{ORG_SCOPE},{MEMBER_SCOPE}",
        }
    )


def routes() -> list[Route]:
    return [
        Route("/rest/networkSizes/{urn}", network_sizes),
        Route("/rest/organizationalEntityFollowerStatistics", follower_statistics),
        Route("/rest/organizationPageStatistics", page_statistics),
        Route("/rest/memberFollowersCount", member_followers_count),
    ]


def oauth_routes() -> list[Route]:
    return [Route("/oauth/v2/accessToken", access_token, methods=["POST"])]


def _organization_urn(platform_account_id: str) -> str:
    """Organizations are stored as URNs, whichever form they were given in."""
    if platform_account_id.isdigit():
        return f"urn:li:organization:{platform_account_id}"
    return platform_account_id


SIMULATED = SimPlatform(
    name="linkedin",
    # LinkedIn's OAuth host is a separate prefix (the adapters' oauth_base).
    routes=lambda: {"/linkedin-oauth": oauth_routes(), "/linkedin": routes()},
    # Gains and page statistics are per day, like LinkedIn's DAY granularity.
    default_counters={
        "first_degree_size": 1200,
        "organic_follower_gain": 3,
        "paid_follower_gain": 1,
        "desktop_page_views": 12,
        "mobile_page_views": 5,
        "unique_page_views": 9,
        "careers_page_views": 2,
        "about_page_views": 1,
        "careers_page_jobs_clicks": 1,
        "member_followers_count": 640,
    },
    token_lifetime_seconds=5_184_000,
    scenarios=("invalid_token", "no_statistics_permission"),
    canonical_id=_organization_urn,
)
