"""The fetch skeleton every adapter shares: refresh ahead of expiry, read, refresh once on expiry.

Rotated credentials go to `context.credential_sink.store(...)` before the new access token is
used, so a crash between the two never loses the only valid refresh token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Self

import httpx
import structlog

from adapters.base import AccountRef, Credentials, FetchResult, Platform, PlatformConfig, SyncContext
from adapters.errors import PlatformBroken, PlatformError, ReconnectRequired, RetryLater, TokenExpired
from adapters.http import DEFAULT_RETRY, Caller, RetryPolicy
from adapters.limits import utc
from adapters.values import Normalised, as_count, as_dict, as_str, optional_str, require

log = structlog.get_logger()


def credentials_after_refresh(
    old: Credentials,
    now: datetime,
    access_token: str,
    expires_in: int | None,
    refresh_token: str | None = None,
    refresh_expires_in: int | None = None,
    scopes: tuple[str, ...] | None = None,
) -> Credentials:
    return Credentials(
        access_token=access_token,
        refresh_token=refresh_token if refresh_token is not None else old.refresh_token,
        expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
        scopes=scopes if scopes else old.scopes,
        refresh_expires_at=(
            now + timedelta(seconds=refresh_expires_in) if refresh_expires_in else old.refresh_expires_at
        ),
    )


def credentials_from_token_reply(
    old: Credentials,
    now: datetime,
    body: object,
    label: str,
    *,
    refresh_expires_key: str | None = None,
    scope_separators: str = " ",
) -> Credentials:
    """An OAuth token endpoint's JSON reply (X, LinkedIn, TikTok) -> the new credentials.

    Fields are checked like any platform value: a malformed reply is PlatformBroken, never a crash.
    """
    reply = as_dict(body, f"{label} token reply")
    expires_in = reply.get("expires_in")
    refresh_in = reply.get(refresh_expires_key) if refresh_expires_key else None
    scope = reply.get("scope")
    if isinstance(scope, str):
        for separator in scope_separators[1:]:
            scope = scope.replace(separator, scope_separators[0])
    return credentials_after_refresh(
        old,
        now,
        as_str(require(reply, "access_token", f"{label} token reply"), f"{label} access_token"),
        as_count(expires_in, f"{label} expires_in") if expires_in is not None else None,
        refresh_token=optional_str(reply.get("refresh_token"), f"{label} refresh_token"),
        refresh_expires_in=as_count(refresh_in, f"{label} {refresh_expires_key}")
        if refresh_in is not None
        else None,
        scopes=tuple(s for s in scope.split(scope_separators[0]) if s) if isinstance(scope, str) else None,
    )


def fetch_result(
    out: Normalised,
    warnings: Sequence[str] | None = None,
    *,
    complete: bool | None = None,
) -> FetchResult:
    """A read's `FetchResult` from what `normalise(...)` made of it.

    `warnings` default to the normaliser's own; the result is complete when there are none
    (`complete` overrides that: a note that leaves the row whole).
    """
    notes = tuple(out.warnings if warnings is None else warnings)
    return FetchResult(
        metrics=out.metrics,
        warnings=notes,
        complete=not notes if complete is None else complete,
        handle=out.handle,
        platform_account_id=out.platform_account_id,
    )


class AdapterBase:
    """Subclasses implement `_read`, and `_refresh` where the platform has a refresh grant."""

    platform: Platform
    label: ClassVar[str]
    # Refresh this long before `expires_at`; subclasses tune it to the token's lifetime.
    refresh_margin: ClassVar[timedelta] = timedelta(minutes=10)

    def __init__(
        self, config: PlatformConfig, client: httpx.Client, retry: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        self._config = config
        self._client = client
        self._retry = retry

    @classmethod
    def build(
        cls,
        config: PlatformConfig,
        client: httpx.Client,
        retry: RetryPolicy,
        configs: Mapping[Platform, PlatformConfig],
    ) -> Self:
        """The registry's adapter factory (`PlatformSpec.adapter` names `<module>:<Adapter>.build`,
        see adapters.registry): the adapter of `config`'s platform. An adapter that also reads
        another platform's config (Instagram, for Facebook Login) overrides it."""
        return cls(config, client, retry)

    def can_refresh(self, account: AccountRef, credentials: Credentials) -> bool:
        return False

    def fetch(self, account: AccountRef, context: SyncContext) -> FetchResult:
        caller = Caller(self._client, account, context.budget, self._retry, self.label)
        now = utc(context.now)
        try:
            result = self._fetch(caller, account, context, now)
        except PlatformError as exc:
            exc.calls = caller.calls
            log.info(
                "adapter.fetch_failed",
                platform=self.platform,
                account_id=account.account_id,
                error=type(exc).__name__,
                calls=caller.calls,
            )
            raise
        return replace(result, calls=caller.calls)

    def _fetch(self, caller: Caller, account: AccountRef, context: SyncContext, now: datetime) -> FetchResult:
        credentials = context.credentials
        refreshed = False
        if self._due(account, credentials, now):
            learning = credentials.expires_at is None
            try:
                credentials = self._refresh_and_store(caller, account, context, credentials, now)
                refreshed = True
            except (RetryLater, PlatformBroken) as exc:
                # The old token is still valid for a while: read with it, refresh next time.
                self._deferred(account, exc)
            except PlatformError as exc:
                if not learning:
                    raise
                # Refreshing only to learn the expiry (Instagram refuses tokens under 24 h old):
                # the token itself may be fine, so the read decides what the row becomes.
                self._deferred(account, exc)
        try:
            return self._read(caller, account, context, credentials, now)
        except TokenExpired as exc:
            if refreshed:
                raise ReconnectRequired(
                    f"{self.label} access has expired and cannot be renewed silently; reconnect the account"
                ) from exc
            if not self.can_refresh(account, credentials):
                raise self.cannot_refresh(account, credentials) from exc
        credentials = self._refresh_and_store(caller, account, context, credentials, now)
        try:
            return self._read(caller, account, context, credentials, now)
        except TokenExpired as exc:
            raise ReconnectRequired(
                f"{self.label} rejected the token right after a refresh; reconnect the account"
            ) from exc

    def cannot_refresh(self, account: AccountRef, credentials: Credentials) -> PlatformError:
        """What an expired token means when this adapter can't refresh it (usually: reconnect)."""
        return ReconnectRequired(
            f"{self.label} access has expired and cannot be renewed silently; reconnect the account"
        )

    def _deferred(self, account: AccountRef, exc: PlatformError) -> None:
        log.warning(
            "adapter.token_refresh_deferred",
            platform=self.platform,
            account_id=account.account_id,
            error=type(exc).__name__,
        )

    def _due(self, account: AccountRef, credentials: Credentials, now: datetime) -> bool:
        """Refresh ahead of expiry; with no known expiry, refresh to learn it from the reply.

        A token connected without `--token-expires-at` would otherwise never be refreshed and
        die at the end of its lifetime (Instagram Login: 60 days).
        """
        if not self.can_refresh(account, credentials):
            return False
        expires_at = credentials.expires_at
        if expires_at is None:
            return True
        return utc(expires_at) - now <= self.refresh_margin

    def _refresh_and_store(
        self,
        caller: Caller,
        account: AccountRef,
        context: SyncContext,
        credentials: Credentials,
        now: datetime,
    ) -> Credentials:
        fresh = self._refresh(caller, account, credentials, now)
        context.credential_sink.store(account, fresh)
        log.info(
            "adapter.token_refreshed",
            platform=self.platform,
            account_id=account.account_id,
            expires_at=fresh.expires_at.astimezone(UTC).isoformat() if fresh.expires_at else None,
            refresh_token_rotated=fresh.refresh_token != credentials.refresh_token,
        )
        return fresh

    def _refresh(
        self, caller: Caller, account: AccountRef, credentials: Credentials, now: datetime
    ) -> Credentials:
        raise ReconnectRequired(f"{self.label} tokens cannot be refreshed; reconnect the account")

    def _read(
        self,
        caller: Caller,
        account: AccountRef,
        context: SyncContext,
        credentials: Credentials,
        now: datetime,
    ) -> FetchResult:
        raise NotImplementedError
