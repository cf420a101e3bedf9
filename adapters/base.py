"""What every platform adapter takes and returns.

An adapter talks to one platform over HTTP and returns a `FetchResult` or raises one of the
errors in `adapters.errors`. It never touches the database: what it must persist (rotated
credentials, rejected metrics, rate-limit observations) goes through the small ports below,
which the worker implements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Platform = Literal["instagram", "facebook", "x", "linkedin", "tiktok"]
PLATFORMS: tuple[Platform, ...] = ("instagram", "facebook", "x", "linkedin", "tiktok")

# Instagram has two login flavours; every other platform has one ("default").
AuthFlavour = Literal["instagram", "facebook", "default"]


@dataclass(frozen=True)
class PlatformConfig:
    """What an adapter needs to know about its platform, as plain values (built from settings)."""

    platform: Platform
    api_base: str
    api_version: str | None = None  # None: the adapter's pinned API_VERSION constant
    client_id: str | None = None
    client_secret: str | None = None
    oauth_base: str | None = None  # LinkedIn's token host
    freshness_seconds: int = 6 * 3600

    @property
    def can_refresh_tokens(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def __repr__(self) -> str:
        return f"PlatformConfig(platform={self.platform!r}, api_base={self.api_base!r})"


@dataclass(frozen=True)
class Credentials:
    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None  # UTC; None: unknown or never expires
    scopes: tuple[str, ...] = ()
    refresh_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never let a token reach a log line through repr()
        return f"Credentials(expires_at={self.expires_at!r}, scopes={self.scopes!r})"


@dataclass(frozen=True)
class AccountRef:
    """The account to read, as stored by us."""

    account_id: str  # our acc_... id, for logs and budget keys
    platform: Platform
    platform_account_id: str
    auth: AuthFlavour = "default"
    handle: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One successful read. `complete` False means some metrics are missing (see warnings)."""

    metrics: Mapping[str, int]
    warnings: tuple[str, ...] = ()
    complete: bool = True
    handle: str | None = None
    platform_account_id: str | None = None
    calls: int = 0  # platform HTTP calls made, for metrics and tests


@dataclass(frozen=True)
class RejectedMetric:
    platform: Platform
    metric: str
    reason: str


class CredentialSink(Protocol):
    """Persists rotated credentials. Called *before* the new access token is used."""

    def store(self, account: AccountRef, credentials: Credentials) -> None: ...


class MetricCatalog(Protocol):
    """Remembers metrics a platform rejected, so later syncs don't request them."""

    def rejected(self, platform: Platform) -> frozenset[str]: ...

    def reject(self, rejection: RejectedMetric) -> None: ...


@dataclass(frozen=True)
class BudgetObservation:
    """What a reply said about a rate limit: `remaining` calls until `reset_at`, or `blocked_until`."""

    scope: Literal["app", "user"]
    remaining: int | None = None
    reset_at: datetime | None = None
    blocked_until: datetime | None = None
    usage_percent: float | None = None


class RateBudget(Protocol):
    """Shared rate budgets. `acquire` raises RateLimited instead of letting a doomed call go out."""

    def acquire(self, account: AccountRef, calls: int = 1) -> None: ...

    def observe(self, account: AccountRef, observation: BudgetObservation) -> None: ...


@dataclass
class SyncContext:
    """The ports and per-sync values an adapter gets for one fetch."""

    credentials: Credentials
    credential_sink: CredentialSink
    catalog: MetricCatalog
    budget: RateBudget
    now: datetime
    insights_window_days: int = 28
    extra: dict[str, str] = field(default_factory=dict)


class PlatformAdapter(Protocol):
    platform: Platform

    def fetch(self, account: AccountRef, context: SyncContext) -> FetchResult:
        """Read the account's metrics; refresh the token silently where the platform allows."""
        ...

    def can_refresh(self, account: AccountRef, credentials: Credentials) -> bool:
        """Whether this account's token can be refreshed without the user."""
        ...


class NoBudget:
    """A RateBudget that never refuses: for the CLI's one-off sync and for tests of adapters."""

    def acquire(self, account: AccountRef, calls: int = 1) -> None:
        return None

    def observe(self, account: AccountRef, observation: BudgetObservation) -> None:
        return None


class MemoryCatalog:
    """A MetricCatalog held in memory, for tests and one-off runs."""

    def __init__(self) -> None:
        self._rejected: dict[str, set[str]] = {}

    def rejected(self, platform: Platform) -> frozenset[str]:
        return frozenset(self._rejected.get(platform, set()))

    def reject(self, rejection: RejectedMetric) -> None:
        self._rejected.setdefault(rejection.platform, set()).add(rejection.metric)
