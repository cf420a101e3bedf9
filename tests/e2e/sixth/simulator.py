"""The sixth platform's simulator module: `verify_credentials` with the account's counters."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.common import bearer_token, pause, reply, store_of
from simulator.platform import SimPlatform


async def verify_credentials(request: Request) -> Response:
    store = store_of(request)
    token = bearer_token(request)
    account = store.by_access_token(("mastodon",), token) if token else None
    store.count(
        "mastodon", account.platform_account_id if account else "_unknown", "accounts/verify_credentials"
    )
    await pause(store, account)
    if account is None or account.access_expired() or account.scenario == "revoked_token":
        return reply({"error": "The access token is invalid"}, 401)
    if store.take_failure(account):
        return reply({"error": "Service unavailable"}, 503)
    return reply(
        {
            "id": account.platform_account_id,
            "username": account.handle,
            **{key: account.counter(key) for key in ("followers_count", "following_count", "statuses_count")},
        }
    )


SIMULATED = SimPlatform(
    name="mastodon",
    routes=lambda: {"/mastodon": [Route("/api/v1/accounts/verify_credentials", verify_credentials)]},
    default_counters={"followers_count": 4321, "following_count": 210, "statuses_count": 1234},
    token_lifetime_seconds=7200,
)
