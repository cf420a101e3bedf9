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
from typing import Literal, Protocol, cast

from ops.foundation.platforms import PLATFORM_NAMES
from ops.foundation.platforms import Platform as Platform

# The platform names in registry order (ops.foundation.platforms holds every fact about them).
PLATFORMS: tuple[Platform, ...] = cast("tuple[Platform, ...]", PLATFORM_NAMES)

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
    # True only when the platform's own wording says the metric no longer exists ("must be one
    # of the following values", "valid insights metric"); a permission or field refusal is False.
    retirement: bool = False


@dataclass(frozen=True)
class MetricMemory:
    """What earlier syncs learnt: `refused` for this account (and login flavour) only, and
    `retired` platform-wide, once accounts of enough workspaces saw the retirement wording."""

    refused: frozenset[str] = frozenset()
    retired: frozenset[str] = frozenset()

    def skipped(self) -> frozenset[str]:
        return self.refused | self.retired


class CredentialSink(Protocol):
    """Persists rotated credentials. Called *before* the new access token is used."""

    def store(self, account: AccountRef, credentials: Credentials) -> None: ...


class MetricCatalog(Protocol):
    """Remembers metrics a platform refused an account, so later syncs don't request them.

    A refusal is remembered per account and login flavour: one account's refusal never changes
    what another account (or workspace) requests, unless it is a confirmed retirement.
    """

    def memory(self, account: AccountRef) -> MetricMemory: ...

    def reject(self, account: AccountRef, rejection: RejectedMetric) -> None: ...


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
    """A MetricCatalog held in memory, for tests and one-off runs.

    `workspace_of` maps our account id to its workspace (default: each account its own), so a
    retirement is confirmed by `min_workspaces` workspaces as in `models.catalog`.
    """

    def __init__(self, *, min_workspaces: int = 2, workspace_of: Mapping[str, str] | None = None) -> None:
        self._min_workspaces = min_workspaces
        self._workspace_of = dict(workspace_of or {})
        self._refused: dict[tuple[str, str], set[str]] = {}
        self._retirements: dict[tuple[str, str], set[str]] = {}  # (platform, metric) -> workspaces

    def memory(self, account: AccountRef) -> MetricMemory:
        refused = frozenset(self._refused.get((account.account_id, account.auth), set()))
        retired = frozenset(
            metric
            for (platform, metric), workspaces in self._retirements.items()
            if platform == account.platform and len(workspaces) >= self._min_workspaces
        )
        return MetricMemory(refused=refused, retired=retired)

    def reject(self, account: AccountRef, rejection: RejectedMetric) -> None:
        self._refused.setdefault((account.account_id, account.auth), set()).add(rejection.metric)
        if rejection.retirement:
            workspace = self._workspace_of.get(account.account_id, account.account_id)
            self._retirements.setdefault((rejection.platform, rejection.metric), set()).add(workspace)
