"""TikTok Display API v2 under `/tiktok`: `GET /v2/user/info/` and `POST /v2/oauth/token/`.

Every API reply is the `{"data", "error"}` envelope, with `error.code` "ok" on success. Fields
are checked against the token's scopes. Refresh tokens rotate: the previous one stops working.

Sources of the reply shapes (checked 2026-12-01; docs/platforms.md, "Simulator reply shapes and
their sources"):
- `user/info` success envelope and fields by scope: developers.tiktok.com/doc/tiktok-api-v2-get-user-info
  [DOC] and its mirror with the stats fields [3P].
- Error codes and HTTP statuses (`access_token_invalid` 401, `scope_not_authorized` 401,
  `scope_permission_missed` 400, `rate_limit_exceeded` 429, `invalid_params` 400,
  `internal_error` 500): developers.tiktok.com/doc/tiktok-api-v2-error-handling [DOC].
- Token replies (`expires_in`, `refresh_expires_in`, rotation) and OAuth errors (`invalid_grant`):
  oauth-refresh-a-user-access-token (updated 2026-11-02) and oauth-error-handling [DOC].
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.tiktok import API_VERSION
from simulator.common import bearer_token, maybe_malformed, pause, reply, store_of
from simulator.platform import SimPlatform
from simulator.state import SimAccount

PREFIX = f"/{API_VERSION}"
FIELD_SCOPES = {
    **dict.fromkeys(
        ("open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name"),
        "user.info.basic",
    ),
    **dict.fromkeys(("bio_description", "profile_deep_link", "is_verified", "username"), "user.info.profile"),
    **dict.fromkeys(("follower_count", "following_count", "likes_count", "video_count"), "user.info.stats"),
}


def envelope_error(status: int, code: str, message: str) -> Response:
    log_id = secrets.token_hex(16).upper()
    return reply({"data": {}, "error": {"code": code, "message": message, "log_id": log_id}}, status)


def _scenario_error(account: SimAccount) -> Response | None:
    if account.access_expired() or account.scenario == "revoked_token":
        return envelope_error(
            401, "access_token_invalid", "The access token is invalid or not found in the request."
        )
    if account.scenario == "missing_permission":
        return envelope_error(
            401,
            "scope_not_authorized",
            "The user did not authorize the scope required for completing this request.",
        )
    if account.scenario == "rate_limited":
        return envelope_error(
            429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later."
        )
    if account.scenario == "invalid_params":
        return envelope_error(400, "invalid_params", "One or more fields are invalid.")
    return None


def _user(account: SimAccount, fields: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "open_id": account.platform_account_id,
        "union_id": f"union-{account.platform_account_id}",
        "avatar_url": "https://p16-sign.tiktokcdn-us.com/sim-avatar.jpeg",
        "display_name": account.handle.replace(".", " ").title(),
        "username": account.handle,
        "is_verified": False,
    }
    return {
        f: values[f] if f in values else account.counter(f)
        for f in fields
        if f in values or f in FIELD_SCOPES
    }


async def user_info(request: Request) -> Response:
    store = store_of(request)
    token = bearer_token(request)
    account = store.by_access_token(("tiktok",), token) if token else None
    store.count("tiktok", account.platform_account_id if account else "_unknown", "user/info")
    await pause(store, account)
    if account is None:
        return envelope_error(
            401, "access_token_invalid", "The access token is invalid or not found in the request."
        )
    if store.quota.charge("tiktok", account.platform_account_id) is not None:
        return envelope_error(
            429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later."
        )
    if store.take_failure(account):
        return envelope_error(500, "internal_error", "Something went wrong. Please try again later.")
    failure = _scenario_error(account)
    if failure is not None:
        return failure
    fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    retired = (
        str(account.params.get("metric", "likes_count")) if account.scenario == "retired_metric" else None
    )
    unknown = [f for f in fields if f not in FIELD_SCOPES or f == retired]
    if not fields or unknown:
        return envelope_error(400, "invalid_params", f"Invalid fields: {','.join(unknown) or '(none given)'}")
    if any(not account.has_scope(FIELD_SCOPES[f]) for f in fields):
        return envelope_error(
            400, "scope_permission_missed", "Access token is invalid, some fields need additional scopes."
        )
    body = {"data": {"user": _user(account, fields)}, "error": {"code": "ok", "message": "", "log_id": "sim"}}
    return maybe_malformed(account, body)


async def oauth_token(request: Request) -> Response:
    store = store_of(request)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
    account = store.by_refresh_token("tiktok", form.get("refresh_token", ""))
    store.count("tiktok", account.platform_account_id if account else "_unknown", "oauth/token")
    await pause(store, account)
    if not form.get("client_key") or not form.get("client_secret"):
        return reply(
            {
                "error": "invalid_client",
                "error_description": "Client key or secret is incorrect.",
                "log_id": "sim",
            },
            401,
        )
    if form.get("grant_type") != "refresh_token":
        return reply(
            {
                "error": "unsupported_grant_type",
                "error_description": "Grant type is not supported.",
                "log_id": "sim",
            },
            400,
        )
    spent = account is not None and form["refresh_token"] != account.refresh_token
    if account is None or spent or account.scenario == "revoked_token":
        return reply(
            {
                "error": "invalid_grant",
                "error_description": "Refresh token is invalid or expired.",
                "log_id": "sim",
            },
            400,
        )
    store.issue(account, rotate_refresh=True)
    return reply(
        {
            "access_token": account.access_token,
            "expires_in": 7200,
            "open_id": account.platform_account_id,
            "refresh_expires_in": 15_552_000,
            "refresh_token": account.refresh_token,
            "scope": ",".join(account.scopes) or "user.info.basic,user.info.stats",
            "token_type": "Bearer",
        }
    )


def routes() -> list[Route]:
    return [
        Route(f"{PREFIX}/user/info/", user_info),
        Route(f"{PREFIX}/oauth/token/", oauth_token, methods=["POST"]),
    ]


SIMULATED = SimPlatform(
    name="tiktok",
    routes=lambda: {"/tiktok": routes()},
    default_counters={
        "follower_count": 10500,
        "following_count": 180,
        "likes_count": 250000,
        "video_count": 95,
    },
    token_lifetime_seconds=7200,
    scenarios=("invalid_params",),
)
