"""Test harness for adapters over real sockets against the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from adapters.base import (
    AccountRef,
    AuthFlavour,
    BudgetObservation,
    Credentials,
    FetchResult,
    MemoryCatalog,
    Platform,
    PlatformAdapter,
    PlatformConfig,
    SyncContext,
)
from adapters.http import RetryPolicy
from adapters.registry import build_adapter
from simulator.client import SimulatorClient

FAST_RETRY = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, jitter=0)


class RecordingSink:
    """Stores rotated credentials, and what the simulator had seen at that moment."""

    def __init__(self, sim: SimulatorClient) -> None:
        self.sim = sim
        self.stored: list[tuple[AccountRef, Credentials, dict[str, int]]] = []

    def store(self, account: AccountRef, credentials: Credentials) -> None:
        seen = self.sim.request_counts(account.platform, account.platform_account_id)
        self.stored.append((account, credentials, seen))


@dataclass
class CountingBudget:
    acquired: int = 0
    observations: list[BudgetObservation] = field(default_factory=list)

    def acquire(self, account: AccountRef, calls: int = 1) -> None:
        self.acquired += calls

    def observe(self, account: AccountRef, observation: BudgetObservation) -> None:
        self.observations.append(observation)


@dataclass
class Harness:
    sim: SimulatorClient
    http: httpx.Client
    sink: RecordingSink
    catalog: MemoryCatalog = field(default_factory=MemoryCatalog)
    budget: CountingBudget = field(default_factory=CountingBudget)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def config(self, platform: Platform, **overrides: Any) -> PlatformConfig:
        values: dict[str, Any] = {
            "platform": platform,
            "api_base": self.sim.api_base(platform),
            "client_id": "client-id",
            "client_secret": "client-secret",
            "oauth_base": self.sim.linkedin_oauth_base if platform == "linkedin" else None,
        }
        values.update(overrides)
        return PlatformConfig(**values)

    def adapter(
        self, platform: Platform, retry: RetryPolicy = FAST_RETRY, **overrides: Any
    ) -> PlatformAdapter:
        return build_adapter(
            self.config(platform, **overrides),
            self.http,
            configs={"facebook": self.config("facebook")},
            retry=retry,
        )

    def seed(self, platform: Platform, account_id: str, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("access_token", f"at-{platform}-{account_id}")
        return self.sim.upsert_account(platform, account_id, **kwargs)

    def fetch(
        self,
        platform: Platform,
        account_id: str,
        *,
        token: str | None = None,
        refresh_token: str | None = None,
        expires_at: datetime | None = None,
        unknown_expiry: bool = False,
        scopes: tuple[str, ...] = (),
        auth: AuthFlavour = "default",
        adapter: PlatformAdapter | None = None,
        window_days: int = 28,
    ) -> FetchResult:
        if expires_at is None and not unknown_expiry:
            # A known expiry outside every refresh margin: only tests of expiry learning (issue
            # 10) read with an unknown one, which makes a refreshable adapter refresh first.
            expires_at = self.now + timedelta(days=30)
        context = SyncContext(
            credentials=Credentials(
                token or f"at-{platform}-{account_id}", refresh_token, expires_at, scopes
            ),
            credential_sink=self.sink,
            catalog=self.catalog,
            budget=self.budget,
            now=self.now,
            insights_window_days=window_days,
        )
        account = AccountRef(f"acc_{account_id}", platform, account_id, auth=auth)
        return (adapter or self.adapter(platform)).fetch(account, context)

    def counts(self, platform: Platform, account_id: str) -> dict[str, int]:
        return self.sim.request_counts(platform, account_id)

    def soon(self, minutes: int = 1) -> datetime:
        return self.now + timedelta(minutes=minutes)
