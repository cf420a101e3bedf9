"""The sixth platform's adapter: Mastodon's account counts from `verify_credentials`, in one call."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from adapters.base import AccountRef, Credentials, FetchResult, Platform, SyncContext
from adapters.errors import PlatformBroken, PlatformError, TokenExpired
from adapters.flow import AdapterBase, fetch_result
from adapters.http import Caller, Reply
from adapters.values import Normalised, as_dict, as_str, optional_str, require

METRIC_KEYS = ("followers_count", "following_count", "statuses_count")


def classify(reply: Reply) -> PlatformError | None:
    if reply.status == 401:
        return TokenExpired("Mastodon access token is invalid or expired")
    if reply.status >= 300 or reply.json_object is None:
        return PlatformBroken(f"Mastodon answered HTTP {reply.status}")
    return None


def normalise(body: object) -> Normalised:
    account = as_dict(body, "Mastodon account")
    out = Normalised(
        handle=optional_str(account.get("username"), "Mastodon username"),
        platform_account_id=as_str(require(account, "id", "Mastodon account"), "Mastodon id"),
    )
    for key in METRIC_KEYS:
        out.keep(key, account.get(key), f"Mastodon {key}")
    return out


class MastodonAdapter(AdapterBase):
    platform: Platform = "mastodon"  # type: ignore[assignment]  # an installed platform
    label: ClassVar[str] = "Mastodon"

    def _read(
        self,
        caller: Caller,
        account: AccountRef,
        context: SyncContext,
        credentials: Credentials,
        now: datetime,
    ) -> FetchResult:
        reply = caller.request(
            "GET",
            f"{self._config.api_base.rstrip('/')}/api/v1/accounts/verify_credentials",
            endpoint="accounts/verify_credentials",
            headers={"Authorization": f"Bearer {credentials.access_token}"},
        )
        error = classify(reply)
        if error is not None:
            raise error
        out = normalise(reply.data)
        return fetch_result(out)
