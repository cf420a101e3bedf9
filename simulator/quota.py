"""The platforms' rate limits, enforced: a token bucket per platform app and per account token.

Budgets are the worker's own "CALLS/SECONDS" strings (DRAVO_<PLATFORM>_APP_BUDGET / _USER_BUDGET)
with the worker's bucket rule: a bucket holds CALLS tokens and refills at CALLS/SECONDS, and a
call needs a token in both. A call the buckets can't carry is refused with the platform's own
rate-limit reply (each platform module builds it) and spends nothing. Platforms without a budget
set are not limited, which is the default: tests opt in through PUT /_admin/budgets.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from pydantic import BaseModel, field_validator

from ops.foundation.platforms import PLATFORM_NAMES


@dataclass(frozen=True)
class Rate:
    calls: int
    seconds: float

    @classmethod
    def parse(cls, value: str) -> Rate:
        calls, _, seconds = value.partition("/")
        rate = cls(int(calls), float(seconds))
        if rate.calls < 1 or rate.seconds <= 0:
            raise ValueError(f"calls and seconds must be positive, got {value!r}")
        return rate

    def __str__(self) -> str:
        return f"{self.calls}/{self.seconds:g}"


@dataclass
class Bucket:
    rate: Rate
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        per_second = self.rate.calls / self.rate.seconds
        self.tokens = min(self.rate.calls, self.tokens + max(0.0, now - self.at) * per_second)
        self.at = now

    def wait(self) -> float:
        """Seconds until this bucket holds a whole token (0 when it does)."""
        return max(0.0, (1 - self.tokens) * self.rate.seconds / self.rate.calls)


@dataclass(frozen=True)
class Refusal:
    scope: str  # "app" or "user": which budget ran out
    retry_after: float  # seconds until both buckets hold a token again
    rate: Rate  # the budget that ran out


class BudgetBody(BaseModel):
    """PUT /_admin/budgets: {"<platform>": {"app": "600/2", "user": "600/2"}, ...}; null lifts one."""

    budgets: dict[str, dict[str, str | None]]

    @field_validator("budgets")
    @classmethod
    def _valid(cls, value: dict[str, dict[str, str | None]]) -> dict[str, dict[str, str | None]]:
        for platform, scopes in value.items():
            if platform not in PLATFORM_NAMES:
                raise ValueError(f"unknown platform {platform!r}")
            for scope, budget in scopes.items():
                if scope not in ("app", "user"):
                    raise ValueError(f"{platform}: scope must be app or user, got {scope!r}")
                if budget is not None:
                    Rate.parse(budget)
        return value


class Quota:
    def __init__(self) -> None:
        self.rates: dict[tuple[str, str], Rate] = {}  # (platform, "app" | "user") -> budget
        self._buckets: dict[tuple[str, str], Bucket] = {}  # (platform, account id or "") -> bucket
        self.admitted: Counter[str] = Counter()  # platform -> calls served
        self.refused: Counter[tuple[str, str]] = Counter()  # (platform, scope) -> calls refused

    def reset(self) -> None:
        self.rates.clear()
        self._buckets.clear()
        self.admitted.clear()
        self.refused.clear()

    def configure(self, platform: str, scope: str, budget: str | None) -> None:
        """Set (or with None lift) one budget; its buckets start full."""
        if budget is None:
            self.rates.pop((platform, scope), None)
        else:
            self.rates[(platform, scope)] = Rate.parse(budget)
        for key in [k for k in self._buckets if k[0] == platform and (k[1] == "") == (scope == "app")]:
            del self._buckets[key]

    def _bucket(self, platform: str, holder: str, rate: Rate, now: float) -> Bucket:
        bucket = self._buckets.get((platform, holder))
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[(platform, holder)] = Bucket(rate, float(rate.calls), now)
        bucket.refill(now)
        return bucket

    def charge(self, platform: str, account_id: str) -> Refusal | None:
        """Spend one call of `account_id`'s token and of its platform app, or say which budget is spent."""
        now = time.monotonic()
        buckets: list[tuple[str, Bucket]] = []
        for scope, holder in (("app", ""), ("user", account_id)):
            rate = self.rates.get((platform, scope))
            if rate is not None:
                buckets.append((scope, self._bucket(platform, holder, rate, now)))
        short = [(scope, b) for scope, b in buckets if b.tokens < 1]
        if short:
            scope, bucket = max(short, key=lambda item: item[1].wait())
            self.refused[(platform, scope)] += 1
            return Refusal(scope, bucket.wait(), bucket.rate)
        for _, bucket in buckets:
            bucket.tokens -= 1
        self.admitted[platform] += 1
        return None

    def public(self) -> dict[str, dict[str, object]]:
        return {
            platform: {
                "app": str(self.rates[(platform, "app")]) if (platform, "app") in self.rates else None,
                "user": str(self.rates[(platform, "user")]) if (platform, "user") in self.rates else None,
                "admitted": self.admitted[platform],
                "refused_app": self.refused[(platform, "app")],
                "refused_user": self.refused[(platform, "user")],
            }
            for platform in PLATFORM_NAMES
        }
