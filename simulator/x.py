"""X API v2 under `/x`: `GET /2/users/me`, `GET /2/users/{id}`, `POST /2/oauth2/token`.

Errors are Problem JSON (`application/problem+json`); every API reply carries
`x-rate-limit-limit/remaining/reset`. Refresh tokens are single-use and rotate; presenting a
spent one revokes the whole token family (observed behaviour, docs/platforms.md, "X (API v2)": Tokens).

Sources of the reply shapes (checked 2026-12-01; docs/platforms.md, "Simulator reply shapes and
their sources"):
- `/2/users/me` body and `user.fields` enum: xdevplatform/docs `openapi.json` (HEAD 2026-08-22),
  tweepy cassettes `test_client_get_me.yaml` [REC]; `post_count`: OpenAPI v2.167.
- `x-rate-limit-*` headers: `x-api/fundamentals/rate-limits.mdx`.
- Problem JSON 401/403/429, `client-forbidden`, `unsupported-authentication`, `credits` (402),
  `usage-capped`: `x-api/fundamentals/response-codes-and-errors.mdx` and `pricing.mdx`.
- Token endpoint replies and `invalid_request` "Value passed for the token was invalid.":
  `fundamentals/authentication/oauth-2-0/authorization-code.mdx`, `user-access-token.mdx`.
"""

from __future__ import annotations

import base64
import math
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.x import API_VERSION
from simulator.common import bearer_token, maybe_malformed, pause, reply, store_of
from simulator.platform import SimPlatform
from simulator.quota import Refusal
from simulator.state import SimAccount

PREFIX = f"/{API_VERSION}"
USER_FIELDS = (
    "affiliation",
    "confirmed_email",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
)
USERS_ME_LIMIT = 75  # per user per 15 minutes
WINDOW_SECONDS = 900
PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    kind: str = "about:blank",
    headers: dict[str, str] | None = None,
    /,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {**extra, "title": title, "detail": detail, "type": kind}
    if kind == "about:blank":
        body["status"] = status
    return reply(body, status, headers, PROBLEM)


def _rate_headers(account: SimAccount | None, count: int, *, exhausted: bool = False) -> dict[str, str]:
    now = int(time.time())
    reset = (
        now + int(account.params.get("reset_seconds", WINDOW_SECONDS))
        if exhausted and account
        else (now - now % WINDOW_SECONDS + WINDOW_SECONDS)
    )
    remaining = 0 if exhausted else max(0, USERS_ME_LIMIT - 1 - (count - 1) % USERS_ME_LIMIT)
    return {
        "x-rate-limit-limit": str(USERS_ME_LIMIT),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(reset),
    }


def _budget_headers(refusal: Refusal) -> dict[str, str]:
    """x-rate-limit-* of a refusal by the enforced budget (simulator.quota): reset when a call fits again."""
    return {
        "x-rate-limit-limit": str(refusal.rate.calls),
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(math.ceil(time.time() + refusal.retry_after)),
    }


def _scenario_error(account: SimAccount, headers: dict[str, str]) -> Response | None:
    scenario = account.scenario
    if account.access_expired() or scenario == "revoked_token":
        return problem(401, "Unauthorized", "Unauthorized", "about:blank", headers)
    if scenario == "missing_permission":
        return problem(403, "Forbidden", "Forbidden", "about:blank", headers)
    if scenario == "client_forbidden":
        return problem(
            403,
            "Client Forbidden",
            "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a "
            "Twitter developer App that is attached to a Project. You can create a project via the developer portal.",
            "https://api.twitter.com/2/problems/client-forbidden",
            headers,
            client_id="simclient",
            registration_url="https://developer.twitter.com/en/docs/projects/overview",
            required_enrollment="Appropriate Level of API Access",
            reason="client-not-enrolled",
        )
    if scenario == "unsupported_authentication":
        return problem(
            403,
            "Unsupported Authentication",
            "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
            "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
            "https://api.twitter.com/2/problems/unsupported-authentication",
            headers,
            status=403,
        )
    if scenario == "credits_depleted":
        return problem(
            402,
            "CreditsDepleted",
            "Your enrolled account [1243608864848629761] does not have any credits to fulfill this request.",
            "https://api.twitter.com/2/problems/credits",
            headers,
            account_id=1243608864848629761,
        )
    if scenario == "usage_capped":
        return problem(
            429,
            "UsageCapExceeded",
            "Usage cap exceeded: Monthly product cap",
            "https://api.twitter.com/2/problems/usage-capped",
            headers,
            account_id=123123123,
            product_name="standard-basic",
            period="Monthly",
            scope="Product",
        )
    return None


def _user(account: SimAccount, fields: list[str]) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": account.platform_account_id,
        "name": account.handle.title(),
        "username": account.handle,
    }
    if "public_metrics" in fields:
        tweets = "post_count" if account.params.get("post_count") else "tweet_count"
        user["public_metrics"] = {
            "followers_count": account.counter("followers_count"),
            "following_count": account.counter("following_count"),
            tweets: account.counter("tweet_count"),
            "listed_count": account.counter("listed_count"),
            "like_count": account.counter("like_count"),
            "media_count": account.counter("media_count"),
        }
    if "verified_followers_count" in fields:
        user["verified_followers_count"] = account.counter("verified_followers_count")
    return user


async def _users(request: Request, user_id: str | None) -> Response:
    store = store_of(request)
    token = bearer_token(request)
    account = store.by_access_token(("x",), token) if token else None
    endpoint = "users/me" if user_id is None else "users/:id"
    store.count("x", account.platform_account_id if account else "_unknown", endpoint)
    count = store.requests[("x", account.platform_account_id if account else "_unknown", endpoint)]
    await pause(store, account)
    headers = _rate_headers(account, count)
    if account is None:
        return problem(401, "Unauthorized", "Unauthorized", "about:blank", headers)
    refusal = store.quota.charge("x", account.platform_account_id)
    if refusal is not None:
        return problem(429, "Too Many Requests", "Too Many Requests", "about:blank", _budget_headers(refusal))
    if store.take_failure(account):
        return problem(503, "Service Unavailable", "Service Unavailable", "about:blank", headers)
    if account.scenario == "rate_limited":
        return problem(
            429,
            "Too Many Requests",
            "Too Many Requests",
            "about:blank",
            _rate_headers(account, count, exhausted=True),
        )
    error = _scenario_error(account, headers)
    if error is not None:
        return error
    if user_id is not None and user_id != account.platform_account_id:
        return reply(
            {
                "errors": [
                    {
                        "value": user_id,
                        "detail": f"Could not find user with id: [{user_id}].",
                        "title": "Not Found Error",
                        "resource_type": "user",
                        "parameter": "id",
                        "resource_id": user_id,
                        "type": "https://api.x.com/2/problems/resource-not-found",
                    }
                ]
            },
            200,
            headers,
        )
    fields = [f for f in request.query_params.get("user.fields", "").split(",") if f]
    allowed = set(USER_FIELDS)
    if account.scenario == "retired_metric":
        allowed.discard(str(account.params.get("metric", "verified_followers_count")))
    bad = [f for f in fields if f not in allowed]
    if bad:
        return reply(
            {
                "errors": [
                    {
                        "parameters": {"user.fields": bad},
                        "message": f"The `user.fields` query parameter value [{bad[0]}] is not one of "
                        f"[{','.join(sorted(allowed))}]",
                    }
                ],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.x.com/2/problems/invalid-request",
            },
            400,
            headers,
            PROBLEM,
        )
    return maybe_malformed(account, {"data": _user(account, fields)}, headers=headers)


async def users_me(request: Request) -> Response:
    return await _users(request, None)


async def users_by_id(request: Request) -> Response:
    return await _users(request, request.path_params["user_id"])


def _client_id(request: Request, form: dict[str, str]) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, _secret = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return client_id or None
    return form.get("client_id") or None


async def oauth2_token(request: Request) -> Response:
    store = store_of(request)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
    account = store.by_refresh_token("x", form.get("refresh_token", ""))
    store.count("x", account.platform_account_id if account else "_unknown", "oauth2/token")
    await pause(store, account)
    if _client_id(request, form) is None:
        return reply(
            {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}, 401
        )
    if form.get("grant_type") != "refresh_token":
        return reply(
            {"error": "unsupported_grant_type", "error_description": "Grant type is not supported"}, 400
        )
    invalid = reply(
        {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}, 400
    )
    if account is None or account.scenario == "revoked_token":
        return invalid
    if form["refresh_token"] != account.refresh_token:
        store.revoke(account)  # a spent token came back: the whole family dies
        return invalid
    store.issue(account, rotate_refresh=True)
    return reply(
        {
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": account.access_token,
            "scope": " ".join(account.scopes) or "tweet.read users.read offline.access",
            "refresh_token": account.refresh_token,
        }
    )


def routes() -> list[Route]:
    return [
        Route(f"{PREFIX}/users/me", users_me),
        Route(f"{PREFIX}/users/{{user_id}}", users_by_id),
        Route(f"{PREFIX}/oauth2/token", oauth2_token, methods=["POST"]),
    ]


SIMULATED = SimPlatform(
    name="x",
    routes=lambda: {"/x": routes()},
    default_counters={
        "followers_count": 583423,
        "following_count": 2048,
        "tweet_count": 14052,
        "listed_count": 1672,
        "like_count": 3901,
        "media_count": 812,
        "verified_followers_count": 1204,
    },
    token_lifetime_seconds=7200,
    scenarios=("client_forbidden", "unsupported_authentication", "credits_depleted", "usage_capped"),
)
