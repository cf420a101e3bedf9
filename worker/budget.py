"""Shared rate budgets in Redis: `adapters.base.RateBudget` for every worker process at once.

Two token buckets per call, one for the platform app and one for the account's token, checked
and spent together by one Lua script on Redis' own clock (no drift between workers). A bucket
holds `calls` tokens and refills at `calls / seconds`; both buckets must hold a token, or
nothing is spent and `RateLimited(retry_at)` says when the scarcer one will: the sync is deferred
to `next_sync_at`, the worker never sleeps and never sends a call it knows will be refused.

What the platforms report feeds the same keys (`observe`):
- `remaining` (X's x-rate-limit-remaining): the bucket holds at most that many tokens;
- `remaining == 0` with `reset_at`, or `blocked_until` (Meta's estimated_time_to_regain_access,
  a 429's reset time): a pause key that refuses every call until then;
- `usage_percent` (Meta's x-app-usage / BUC headers) at or above the pause threshold: a pause of
  `pause_seconds`, because at 100 % Meta stops answering for hours.

An outage hold (`worker.outage`) refuses every call like a pause, with `OutageHold`, and while
its probe runs the dispatcher gets at most `probe_syncs` syncs per tick.

Budgets are "CALLS/SECONDS" strings in settings (DRAVO_X_USER_BUDGET=75/900, ...).

Scheduled syncs keep their share: a refresh (`RefreshBudget`, what `refresh=true` syncs spend)
may only take app tokens while more than DRAVO_SCHEDULED_BUDGET_RESERVE_PERCENT of the app
bucket would be left, so however often tenants refresh, the dispatcher's syncs still find the
reserved part of every platform's budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import redis
import redis.asyncio as aredis

from adapters.base import AccountRef, BudgetObservation, Platform
from adapters.errors import OutageHold, RateLimited
from ops.foundation import platforms as platform_registry
from ops.foundation.settings import ConfigurationError, Settings
from worker.names import KEY_PREFIX
from worker.outage import OutagePolicy, hold_key, probe_key
from worker.outcome import PLATFORM_LABELS
from worker.script_clock import script_clock

# Platform calls one sync usually makes (the registry's estimate); the dispatcher divides the app
# budget by this so it does not enqueue syncs the budget can't carry. Adapters may make more or
# fewer: `FetchResult.calls` is the observed count.
ESTIMATED_CALLS_PER_SYNC: dict[str, int] = platform_registry.estimated_calls_per_sync()
# Redis unreachable: don't guess, come back shortly.
UNAVAILABLE_RETRY = timedelta(seconds=30)

# KEYS: app bucket, user bucket, app pause, user pause, outage hold (worker.outage). ARGV: app
# calls, app period ms, user calls, user period ms, calls wanted, app tokens that must stay (the
# scheduled reserve; 0 for scheduled syncs), and optionally the clock in ms (every script:
# production passes none and the script reads Redis' TIME; the capacity simulation passes its
# virtual clock, so it runs these very scripts). Returns {granted, wait_ms, which (1 app, 2 user,
# 3 outage hold)}.
ACQUIRE_SCRIPT = (
    script_clock(7)
    + """
local held = tonumber(redis.call('GET', KEYS[5]) or '0') - now
if held > 0 then return {0, held, 3} end
local want = tonumber(ARGV[5])
local floors = {tonumber(ARGV[6] or '0'), 0}
local wait, which = 0, 0
for i = 3, 4 do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl > wait then wait, which = pttl, i - 2 end
end
if wait > 0 then return {0, wait, which} end
local tokens = {}
for i = 1, 2 do
  local cap = tonumber(ARGV[i * 2 - 1])
  local rate = cap / tonumber(ARGV[i * 2])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local have, ts = tonumber(state[1]), tonumber(state[2])
  if have == nil or ts == nil then have, ts = cap, now end
  have = math.min(cap, have + math.max(0, now - ts) * rate)
  tokens[i] = have
  if have - floors[i] < want then
    local need = math.ceil((want + floors[i] - have) / rate)
    if need > wait then wait, which = need, i end
  end
end
if wait > 0 then return {0, wait, which} end
for i = 1, 2 do
  redis.call('HSET', KEYS[i], 'tokens', tostring(tokens[i] - want), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[i * 2]) * 2)
end
return {1, 0, 0}
"""
)

# KEYS: bucket. ARGV: calls, period ms, remaining[, now ms]. The platform's count wins when it is lower.
_CAP = (
    script_clock(4)
    + """
local cap = tonumber(ARGV[1])
local rate = cap / tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local have, ts = tonumber(state[1]), tonumber(state[2])
if have == nil or ts == nil then have, ts = cap, now end
have = math.min(cap, have + math.max(0, now - ts) * rate, tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'tokens', tostring(have), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
"""
)

# KEYS: app bucket, app pause, outage hold, outage probe. ARGV: calls, period ms[, now ms].
# Returns {whole tokens available now (0 while paused or held), state: 0, 1 while an outage probe
# runs, 2 while the platform is held}.
_PROBING, _HELD = 1, 2  # the availability script's states
_AVAILABLE = (
    script_clock(3)
    + """
if redis.call('PTTL', KEYS[2]) > 0 then return {0, 0} end
if tonumber(redis.call('GET', KEYS[3]) or '0') > now then return {0, 2} end
local probing = 0
if tonumber(redis.call('GET', KEYS[4]) or '0') > now then probing = 1 end
local cap = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local have, ts = tonumber(state[1]), tonumber(state[2])
if have == nil or ts == nil then return {cap, probing} end
return {math.floor(math.min(cap, have + math.max(0, now - ts) * cap / tonumber(ARGV[2]))), probing}
"""
)


@dataclass(frozen=True)
class Rate:
    calls: int
    seconds: int

    @classmethod
    def parse(cls, value: str, name: str) -> Rate:
        calls, _, seconds = value.partition("/")
        try:
            rate = cls(int(calls), int(seconds))
        except ValueError:
            raise ConfigurationError(
                f"{name}: expected CALLS/SECONDS such as 600/60, got {value!r}"
            ) from None
        if rate.calls < 1 or rate.seconds < 1:
            raise ConfigurationError(f"{name}: calls and seconds must be positive, got {value!r}")
        return rate


@dataclass(frozen=True)
class PlatformBudget:
    app: Rate
    user: Rate


def budgets_from_settings(settings: Settings) -> dict[str, PlatformBudget]:
    return {
        p: PlatformBudget(
            app=Rate.parse(chosen.app_budget, f"DRAVO_{p.upper()}_APP_BUDGET"),
            user=Rate.parse(chosen.user_budget, f"DRAVO_{p.upper()}_USER_BUDGET"),
        )
        for p, chosen in settings.platforms.items()
    }


def budget_key(platform: str, scope: str, account_id: str | None = None, kind: str = "bucket") -> str:
    suffix = f":{account_id}" if account_id else ""
    return f"{KEY_PREFIX}:budget:{kind}:{platform}:{scope}{suffix}"


class RedisRateBudget:
    """Thread-safe (redis-py pools connections); one per worker process."""

    def __init__(
        self,
        client: redis.Redis,
        budgets: dict[str, PlatformBudget],
        *,
        pause_percent: float = 90.0,
        pause_seconds: int = 300,
        probe_syncs: int = OutagePolicy().probe_syncs,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        # `clock` is for the capacity simulation's virtual time; production leaves it None and
        # the scripts use Redis' own clock (pause TTLs stay on Redis' clock either way).
        self._clock = clock
        self._redis = client
        self._budgets = budgets
        self._pause_percent = pause_percent
        self._pause_ms = pause_seconds * 1000
        self._probe_syncs = probe_syncs
        self._acquire = client.register_script(ACQUIRE_SCRIPT)
        self._cap = client.register_script(_CAP)
        self._available = client.register_script(_AVAILABLE)

    def acquire(self, account: AccountRef, calls: int = 1, reserve_fraction: float = 0.0) -> None:
        """Spend `calls` tokens, leaving at least `reserve_fraction` of the app bucket unspent."""
        keys, args = self._acquire_call(account, calls, reserve_fraction)
        try:
            reply = self._run(self._acquire, keys, args)
        except redis.RedisError as exc:
            raise RateLimited(
                "the shared rate budget is unreachable; the sync is deferred",
                self._now() + UNAVAILABLE_RETRY,
                limit="rate budget (Redis unavailable)",
            ) from exc
        refusal = self.refusal(account, reply)
        if refusal is not None:
            raise refusal

    def acquire_many(self, wanted: Sequence[tuple[AccountRef, int]]) -> list[RateLimited | None]:
        """`acquire` for several syncs in one round trip, in order (the capacity simulation's).

        The same script per sync, so the same grants as calling `acquire` one after the other;
        a refusal is returned, not raised.
        """
        with self._redis.pipeline(transaction=False) as pipe:
            for account, calls in wanted:
                keys, args = self._acquire_call(account, calls, 0.0)
                self._acquire(keys=keys, args=args, client=pipe)
            replies = pipe.execute()
        return [self.refusal(account, reply) for (account, _), reply in zip(wanted, replies, strict=True)]

    def _acquire_call(
        self, account: AccountRef, calls: int, reserve_fraction: float
    ) -> tuple[list[str], list[Any]]:
        budget = self._budgets[account.platform]
        args = [budget.app.calls, budget.app.seconds * 1000, budget.user.calls, budget.user.seconds * 1000]
        floor = budget.app.calls * reserve_fraction
        return self._keys(account), [*args, calls, floor, *self._now_ms()]

    def refusal(self, account: AccountRef, reply: Any) -> RateLimited | None:
        granted, wait_ms, which = reply
        if granted:
            return None
        label = PLATFORM_LABELS.get(account.platform, account.platform)
        retry_at = self._now() + timedelta(milliseconds=max(int(wait_ms), 1))
        if which == 3:
            return OutageHold(
                f"{label} failed most recent syncs; calls are held until it answers again",
                retry_at,
                limit=f"{label} outage hold",
            )
        scope = "app" if which == 1 else "user"
        return RateLimited(
            f"{label} {scope} rate budget spent; not calling before the reset",
            retry_at,
            limit=f"{label} {scope} rate limit",
        )

    def observe(self, account: AccountRef, observation: BudgetObservation) -> None:
        budget = self._budgets[account.platform]
        scope = observation.scope
        rate = budget.app if scope == "app" else budget.user
        account_id = account.account_id if scope == "user" else None
        bucket = budget_key(account.platform, scope, account_id)
        pause = budget_key(account.platform, scope, account_id, kind="pause")
        now = self._now()
        until = observation.blocked_until
        if observation.remaining is not None and observation.remaining <= 0 and observation.reset_at:
            until = max(until or observation.reset_at, observation.reset_at)
        try:
            if observation.remaining is not None and observation.remaining > 0:
                args = [rate.calls, rate.seconds * 1000, observation.remaining, *self._now_ms()]
                self._run(self._cap, [bucket], args)
            if until is not None and until > now:
                self._pause(pause, math.ceil((until - now).total_seconds() * 1000))
            elif observation.usage_percent is not None and observation.usage_percent >= self._pause_percent:
                self._pause(pause, self._pause_ms)
        except redis.RedisError:
            return  # an observation is advice; the next reply repeats it

    def dispatchable(self, platform: str) -> int:
        """How many syncs of `platform` the app budget can carry right now (for the dispatcher):
        none while it is paused or held for an outage, at most `probe_syncs` while a probe runs."""
        budget = self._budgets[platform]
        args = [budget.app.calls, budget.app.seconds * 1000, *self._now_ms()]
        tokens, state = self._run(self._available, _available_keys(platform), args)
        syncs = int(tokens) // max(ESTIMATED_CALLS_PER_SYNC.get(platform, 1), 1)
        return min(syncs, self._probe_syncs) if int(state) == _PROBING else syncs

    def refreshable(self, platform: str, reserve_fraction: float) -> bool:
        """Whether a refresh sync of `platform` would find app tokens above the scheduled reserve."""
        budget = self._budgets[platform]
        args = [budget.app.calls, budget.app.seconds * 1000, *self._now_ms()]
        tokens, _ = self._run(self._available, _available_keys(platform), args)
        return _above_reserve(int(tokens), budget, platform, reserve_fraction)

    def for_refresh(self, reserve_fraction: float) -> RefreshBudget:
        return RefreshBudget(self, reserve_fraction)

    def _now(self) -> datetime:
        return self._clock() if self._clock else datetime.now(UTC)

    def _now_ms(self) -> list[int]:
        """The scripts' optional clock argument: none in production (Redis' TIME)."""
        return [int(self._clock().timestamp() * 1000)] if self._clock else []

    def _pause(self, key: str, milliseconds: int) -> None:
        # Only ever lengthen a pause: a shorter hint must not cut a longer one.
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, "1", px=milliseconds, nx=True)
            pipe.pexpire(key, milliseconds, gt=True)
            pipe.execute()

    def _keys(self, account: AccountRef) -> list[str]:
        p, a = account.platform, account.account_id
        return [
            budget_key(p, "app"),
            budget_key(p, "user", a),
            budget_key(p, "app", kind="pause"),
            budget_key(p, "user", a, kind="pause"),
            hold_key(p),
        ]

    @staticmethod
    def _run(script: Any, keys: list[str], args: list[Any]) -> Any:
        return script(keys=keys, args=args)


def _available_keys(platform: str) -> list[str]:
    return [
        budget_key(platform, "app"),
        budget_key(platform, "app", kind="pause"),
        hold_key(platform),
        probe_key(platform),
    ]


def _above_reserve(tokens: int, budget: PlatformBudget, platform: str, reserve_fraction: float) -> bool:
    return tokens - budget.app.calls * reserve_fraction >= max(ESTIMATED_CALLS_PER_SYNC.get(platform, 1), 1)


RefreshShare = Literal["left", "spent", "held"]


async def refresh_share(
    client: aredis.Redis, budgets: dict[str, PlatformBudget], platform: str, reserve_fraction: float
) -> RefreshShare:
    """`RedisRateBudget.refreshable` on an asyncio client (the API's refresh service), telling a
    spent share from a platform held for an outage (worker.outage), so the answer says which."""
    budget = budgets[platform]
    keys = _available_keys(platform)
    tokens, state = await client.eval(
        _AVAILABLE, len(keys), *keys, budget.app.calls, budget.app.seconds * 1000
    )
    if int(state) == _HELD:
        return "held"
    return "left" if _above_reserve(int(tokens), budget, platform, reserve_fraction) else "spent"


class RefreshBudget:
    """The budget a refresh sync spends: the same buckets, minus the scheduled syncs' reserve."""

    def __init__(self, budget: RedisRateBudget, reserve_fraction: float) -> None:
        self._budget = budget
        self._reserve = reserve_fraction

    def acquire(self, account: AccountRef, calls: int = 1) -> None:
        self._budget.acquire(account, calls, self._reserve)

    def observe(self, account: AccountRef, observation: BudgetObservation) -> None:
        self._budget.observe(account, observation)


def pause_key(platform: Platform, scope: str, account_id: str | None = None) -> str:
    """For operators and tests: the key whose TTL is a pause of a budget."""
    return budget_key(platform, scope, account_id, kind="pause")
