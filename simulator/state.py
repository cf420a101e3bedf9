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

from ops.foundation.platforms import PLATFORM_NAMES
from simulator.latency import LatencyDistribution
from simulator.quota import Quota

# The simulated platforms are the registry's (each has a module here: simulator/<name>.py).
PLATFORMS = PLATFORM_NAMES

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
PLATFORM_SCENARIOS: dict[str, tuple[str, ...]] = {
    "instagram": (
        "wrong_token_type",
        "lost_access",
        "transient_error",
        "password_changed",
        "app_not_approved",
    ),
    "facebook": (
        "wrong_token_type",
        "lost_access",
        "transient_error",
        "password_changed",
        "app_not_approved",
        "no_insights_permission",
    ),
    "x": ("client_forbidden", "unsupported_authentication", "credits_depleted", "usage_capped"),
    "linkedin": ("invalid_token", "no_statistics_permission"),
    "tiktok": ("invalid_params",),
}
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

DEFAULT_COUNTERS: dict[str, dict[str, int]] = {
    "instagram": {
        "followers_count": 1520,
        "follows_count": 310,
        "media_count": 87,
        "reach": 4200,
        "views": 12000,
        "accounts_engaged": 380,
        "total_interactions": 950,
        "likes": 700,
        "comments": 120,
        "shares": 45,
        "saves": 60,
        "replies": 25,
        "profile_views": 530,
        "website_clicks": 40,
        "profile_links_taps": 33,
    },
    # Page insights counters are per day; the reply holds one value per day of the window.
    "facebook": {
        "fan_count": 270,
        "followers_count": 320,
        "talking_about_count": 2,
        "were_here_count": 0,
        "checkins": 0,
        "page_post_engagements": 12,
        "page_actions_post_reactions_total": 5,
        "page_video_views": 30,
        "page_views_total": 8,
        "page_total_actions": 3,
    },
    "x": {
        "followers_count": 583423,
        "following_count": 2048,
        "tweet_count": 14052,
        "listed_count": 1672,
        "like_count": 3901,
        "media_count": 812,
        "verified_followers_count": 1204,
    },
    # Gains and page statistics are per day, like LinkedIn's DAY granularity.
    "linkedin": {
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
    "tiktok": {"follower_count": 10500, "following_count": 180, "likes_count": 250000, "video_count": 95},
}

# The timestamped request log keeps this many entries (oldest dropped first): about 10 MB.
REQUEST_LOG_SIZE = 200_000

TOKEN_LIFETIME_SECONDS = {
    "instagram": 5_184_000,
    "facebook": 5_184_000,
    "x": 7200,
    "linkedin": 5_184_000,
    "tiktok": 7200,
}


def new_token(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(24)}"


def canonical_id(platform: str, platform_account_id: str) -> str:
    """LinkedIn organizations are stored as URNs, whichever form they were given in."""
    if platform == "linkedin" and platform_account_id.isdigit():
        return f"urn:li:organization:{platform_account_id}"
    return platform_account_id


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
        base = self.counters.get(name, DEFAULT_COUNTERS[self.platform].get(name, 0))
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
            "counters": {k: self.counter(k) for k in {*DEFAULT_COUNTERS[self.platform], *self.counters}},
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
        account.access_expires_at = time.time() + TOKEN_LIFETIME_SECONDS[account.platform]
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
