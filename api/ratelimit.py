"""Per-workspace limits on `refresh=true`, shared by every API process through Redis.

Each refresh can cost platform calls out of budgets that all workspaces share, and holds a
request open for up to DRAVO_REFRESH_WAIT_SECONDS, so two limits apply, both answered with 429
and a Retry-After:

- `refresh_slot`: at most DRAVO_REFRESH_CONCURRENT_PER_WORKSPACE refresh requests of a workspace
  wait at once. A slot is a member of a sorted set scored by its expiry, so a process that dies
  holding one frees it after the wait plus SLOT_SLACK_SECONDS.
- `admit_accounts`: at most DRAVO_REFRESH_ACCOUNTS_PER_MINUTE accounts sent to the platforms in
  any 60 s (a sliding log: one member per account, scored by its time). It counts accounts, not
  requests, so a request naming 50 accounts costs 50. A request gets as many of its accounts as
  the window still allows; with none left it is refused. A reconnect with new credentials syncs
  its account at once, so it spends one account of the same window (`reserve_resync`); with the
  window spent, its sync is deferred rather than the reconnect refused.

Management writes have a window of their own, `admit_write`: DRAVO_API_WRITES_PER_MINUTE per
workspace (api.writes).
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aredis

from api.errors import TooManyRequests

WINDOW_SECONDS = 60
# A slot outlives the longest wait by this much before Redis forgets it.
SLOT_SLACK_SECONDS = 30

# KEYS: slots. ARGV: now ms, expiry ms, cap, member. Returns 1 (taken) or ms until the first frees.
_TAKE_SLOT = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return -math.max(1, tonumber(first[2]) - now)
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIREAT', KEYS[1], tonumber(ARGV[2]))
return 1
"""

# KEYS: log. ARGV: now ms, window ms, limit, wanted, request id. Returns {admitted, retry ms}.
_ADMIT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local admitted = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) - used)
if admitted <= 0 then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(first[2]) + window - now)}
end
for i = 1, admitted do redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], window)
return {admitted, 0}
"""


def slots_key(workspace_id: str) -> str:
    return f"dravo:api:refresh-slots:{workspace_id}"


def window_key(workspace_id: str) -> str:
    return f"dravo:api:refresh-accounts:{workspace_id}"


def _retry_after(milliseconds: float) -> int:
    return max(1, math.ceil(milliseconds / 1000))


@asynccontextmanager
async def refresh_slot(
    client: aredis.Redis, workspace_id: str, cap: int, wait_seconds: float
) -> AsyncIterator[None]:
    """Hold one of the workspace's `cap` refresh slots for the block; TooManyRequests when none is free."""
    key = slots_key(workspace_id)
    member = secrets.token_hex(8)
    now_ms = int(time.time() * 1000)
    expiry_ms = now_ms + int((wait_seconds + SLOT_SLACK_SECONDS) * 1000)
    taken = int(await client.eval(_TAKE_SLOT, 1, key, now_ms, expiry_ms, cap, member))
    if taken < 0:
        # A slot frees when its request ends: usually within the wait, at worst at its expiry.
        retry_after = _retry_after(min(-taken, wait_seconds * 1000 + 1000))
        raise TooManyRequests(
            f"Too many refresh requests of this workspace at once (limit {cap}); "
            f"retry in {retry_after} s or call without refresh=true.",
            retry_after=retry_after,
        )
    try:
        yield
    finally:
        # Redis gone meanwhile: the slot expires by itself; the answer must not turn into a 503.
        with contextlib.suppress(redis.RedisError):
            await client.zrem(key, member)


async def admit_accounts(
    client: aredis.Redis,
    workspace_id: str,
    account_ids: Sequence[str],
    per_minute: int,
    now: float | None = None,
) -> list[str]:
    """The first of `account_ids` that the sliding window still allows; TooManyRequests if none."""
    if not account_ids:
        return []
    at = time.time() if now is None else now
    admitted, retry_ms = await client.eval(
        _ADMIT,
        1,
        window_key(workspace_id),
        int(at * 1000),
        WINDOW_SECONDS * 1000,
        per_minute,
        len(account_ids),
        secrets.token_hex(8),
    )
    if int(admitted) <= 0:
        retry_after = _retry_after(int(retry_ms))
        raise TooManyRequests(
            f"Too many accounts refreshed for this workspace (limit {per_minute} per minute); "
            f"retry in {retry_after} s or call without refresh=true.",
            retry_after=retry_after,
        )
    return list(account_ids[: int(admitted)])


def writes_key(workspace_id: str) -> str:
    return f"dravo:api:writes:{workspace_id}"


async def admit_write(client: aredis.Redis, workspace_id: str, per_minute: int) -> None:
    """Count one management write of the workspace in its sliding 60 s window (every API process
    shares it); TooManyRequests, with Retry-After, when the window is full."""
    admitted, retry_ms = await client.eval(
        _ADMIT, 1, writes_key(workspace_id), int(time.time() * 1000), WINDOW_SECONDS * 1000,
        per_minute, 1, secrets.token_hex(8),
    )  # fmt: skip
    if int(admitted) <= 0:
        retry_after = _retry_after(int(retry_ms))
        raise TooManyRequests(
            f"Too many management writes for this workspace (limit {per_minute} per minute); "
            f"retry in {retry_after} s.",
            retry_after=retry_after,
        )


async def reserve_resync(client: aredis.Redis, workspace_id: str, per_minute: int) -> tuple[str | None, int]:
    """Take one account of the workspace's refresh window for a reconnect's sync: a reconnect
    syncs the account at once, as `refresh=true` would, so it spends the same window.

    Returns the window member to give back if the sync is not needed after all, or None and the
    seconds until the window has room again (the reconnect's sync is then deferred that long).
    """
    request = secrets.token_hex(8)
    admitted, retry_ms = await client.eval(
        _ADMIT, 1, window_key(workspace_id), int(time.time() * 1000), WINDOW_SECONDS * 1000,
        per_minute, 1, request,
    )  # fmt: skip
    if int(admitted) <= 0:
        return None, _retry_after(int(retry_ms))
    return f"{request}:1", 0


async def give_back_resync(client: aredis.Redis, workspace_id: str, member: str) -> None:
    """Return an unused reservation of `reserve_resync` (best effort: it expires with the window)."""
    with contextlib.suppress(redis.RedisError):
        await client.zrem(window_key(workspace_id), member)
