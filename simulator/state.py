"""The simulator's state: accounts with tokens, scopes, scenarios and counters, and request counts.

All handlers run on one event loop and never await between reading and changing this state, so
it needs no locks.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from simulator.catalog import names, simulated
from simulator.latency import LatencyDistribution
from simulator.quota import Quota

# The simulated platforms are the registry's; each one's facts (scenarios, default counters,
# token lifetime, id form) are its `SimPlatform`, beside its routes (simulator.catalog).
PLATFORMS = names()

# Scenarios every platform understands (some behave as healthy where they mean nothing there;
# the README lists which).
COMMON_SCENARIOS = (
    "healthy",
    "expired_token",
    "revoked_token",
    "missing_permission",
    "no_insights",
    "retired_metric",
    "rate_limited",
    "flaky",
    "slow",
    "malformed",
)
MALFORMED_KINDS = (
    "truncated",
    "html",
    "wrong_types",
    "boolean",
    "negative",
    "absurd",
    "missing_fields",
    "huge",
)

# The timestamped request log keeps this many entries (oldest dropped first): about 10 MB.
REQUEST_LOG_SIZE = 200_000


def new_token(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(24)}"


def scenarios_for(platform: str) -> tuple[str, ...]:
    return (*COMMON_SCENARIOS, *simulated(platform).scenarios)


def canonical_id(platform: str, platform_account_id: str) -> str:
    """The stored form of an account id (LinkedIn organizations are stored as URNs); an unknown
    platform's ids are taken as given (no account of it can be found anyway)."""
    if platform not in PLATFORMS:
        return platform_account_id
    return simulated(platform).canonical_id(platform_account_id)


@dataclass
class SimAccount:
    platform: str
    platform_account_id: str
    access_token: str
    refresh_token: str | None = None
    scopes: list[str] = field(default_factory=list)
    handle: str = "dravo.demo"
    scenario: str = "healthy"
    params: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    growth_per_hour: dict[str, float] = field(default_factory=dict)
    latency_ms: float | None = None
    access_expires_at: float | None = None  # unix seconds
    refresh_expires_at: float | None = None
    created_at: float = field(default_factory=time.time)
    failures_served: int = 0
    spent_refresh_tokens: set[str] = field(default_factory=set)

    def counter(self, name: str) -> int:
        """The counter now: its base plus its growth since the account was created."""
        base = self.counters.get(name, simulated(self.platform).default_counters.get(name, 0))
        growth = self.growth_per_hour.get(name, 0.0)
        return base + math.floor(growth * (time.time() - self.created_at) / 3600)

    def has_scope(self, scope: str) -> bool:
        # No scopes recorded means "everything granted": convenient for seeding.
        return not self.scopes or scope in self.scopes

    def access_expired(self) -> bool:
        return self.scenario == "expired_token" or (
            self.access_expires_at is not None and time.time() >= self.access_expires_at
        )

    def public(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "platform_account_id": self.platform_account_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "scopes": self.scopes,
            "handle": self.handle,
            "scenario": self.scenario,
            "params": self.params,
            "counters": {
                k: self.counter(k) for k in {*simulated(self.platform).default_counters, *self.counters}
            },
            "latency_ms": self.latency_ms,
            "access_expires_at": self.access_expires_at,
        }


class Store:
    def __init__(self, latency_ms: float) -> None:
        self.default_latency_ms = latency_ms
        self.latency_ms = latency_ms
        self.accounts: dict[tuple[str, str], SimAccount] = {}
        self.access_tokens: dict[tuple[str, str], tuple[str, str]] = {}
        self.refresh_tokens: dict[tuple[str, str], tuple[str, str]] = {}
        self.requests: Counter[tuple[str, str, str]] = Counter()
        # (unix time, platform, platform_account_id, endpoint), in arrival order.
        self.request_log: deque[tuple[float, str, str, str]] = deque(maxlen=REQUEST_LOG_SIZE)
        # platform -> unix time until which every API request of that platform fails with a 5xx.
        self.outages: dict[str, float] = {}
        # Set through PUT /_admin/latency: calls without their own latency draw from it.
        self.latency_distribution: LatencyDistribution | None = None
        self.quota = Quota()

    def reset(self) -> None:
        self.accounts.clear()
        self.access_tokens.clear()
        self.refresh_tokens.clear()
        self.requests.clear()
        self.request_log.clear()
        self.outages.clear()
        self.latency_ms = self.default_latency_ms
        self.latency_distribution = None
        self.quota.reset()

    def upsert(self, account: SimAccount) -> SimAccount:
        key = (account.platform, account.platform_account_id)
        old = self.accounts.get(key)
        if old is not None:
            self._forget_tokens(old)
        self.accounts[key] = account
        self._index(account)
        return account

    def _forget_tokens(self, account: SimAccount) -> None:
        self.access_tokens.pop((account.platform, account.access_token), None)
        if account.refresh_token:
            self.refresh_tokens.pop((account.platform, account.refresh_token), None)

    def _index(self, account: SimAccount) -> None:
        key = (account.platform, account.platform_account_id)
        self.access_tokens[(account.platform, account.access_token)] = key
        if account.refresh_token:
            self.refresh_tokens[(account.platform, account.refresh_token)] = key

    def get(self, platform: str, platform_account_id: str) -> SimAccount | None:
        return self.accounts.get((platform, canonical_id(platform, platform_account_id)))

    def by_access_token(self, platforms: tuple[str, ...], token: str) -> SimAccount | None:
        for platform in platforms:
            key = self.access_tokens.get((platform, token))
            if key is not None:
                return self.accounts[key]
        return None

    def by_refresh_token(self, platform: str, token: str) -> SimAccount | None:
        key = self.refresh_tokens.get((platform, token))
        if key is not None:
            return self.accounts[key]
        for account in self.accounts.values():
            if account.platform == platform and token in account.spent_refresh_tokens:
                return account
        return None

    def issue(self, account: SimAccount, *, rotate_refresh: bool) -> None:
        """New access token (the old one stops working); a new refresh token where the platform rotates."""
        self._forget_tokens(account)
        account.access_token = new_token(f"sim-{account.platform}-at-")
        account.access_expires_at = time.time() + simulated(account.platform).token_lifetime_seconds
        if rotate_refresh and account.refresh_token:
            account.spent_refresh_tokens.add(account.refresh_token)
            account.refresh_token = new_token(f"sim-{account.platform}-rt-")
        if account.scenario == "expired_token":
            account.scenario = "healthy"
        self._index(account)

    def revoke(self, account: SimAccount) -> None:
        account.scenario = "revoked_token"

    def count(self, platform: str, platform_account_id: str, endpoint: str) -> None:
        self.requests[(platform, platform_account_id, endpoint)] += 1
        self.request_log.append((time.time(), platform, platform_account_id, endpoint))

    def start_outage(self, platform: str, seconds: float) -> float:
        """Every API request of `platform` fails with its 5xx for `seconds` (0 ends it); returns the end."""
        until = time.time() + seconds
        if seconds > 0:
            self.outages[platform] = until
        else:
            self.outages.pop(platform, None)
        return until

    def in_outage(self, platform: str) -> bool:
        return self.outages.get(platform, 0.0) > time.time()

    def latency_for(self, account: SimAccount | None) -> float:
        if account is not None and account.scenario == "slow":
            return float(account.params.get("latency_ms", 3000))
        if account is not None and account.latency_ms is not None:
            return account.latency_ms
        if self.latency_distribution is not None:
            return self.latency_distribution.draw_ms()
        return self.latency_ms

    def take_failure(self, account: SimAccount) -> bool:
        """True while the platform is in an outage, or a flaky account still has failures to serve."""
        if self.in_outage(account.platform):
            return True
        if account.scenario != "flaky":
            return False
        if account.failures_served < int(account.params.get("fail_count", 1)):
            account.failures_served += 1
            return True
        return False
