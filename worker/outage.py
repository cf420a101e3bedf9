"""Platform outage holds: when most of a platform's syncs fail because it is not answering, stop
calling it for a while, and keep every waiting account's place in the queue.

Per-account backoff alone turns an outage into a shuffle: the accounts that were due first fail
most often, back off longest and are read last once the platform is back. So every sync's
outcome is also counted per platform (one Lua script, sent in the pipeline the sync already sends
when it ends, so it costs no round trip):

- `up`: the platform answered (a read, a refused token, a denied permission...);
- `down`: it did not (`PlatformUnavailable`: 5xx after retries, timeouts, unreachable; or a
  `RetryLater` it asked for itself);
- rate limits and our own failures count as neither (`RequestNotSent`: a token or id HTTP can't
  carry never reached the platform, so it says nothing about it).

When, within `window`, at least `min_failures` syncs were `down`, they were at least
`failure_ratio` of the counted ones, and they are not one tenant's doing, the platform is *held*
for `hold`. Not one tenant's doing means: the `down` syncs came from at least `min_workspaces`
distinct workspaces, or at least `min_failures` of them came from accounts that had read well
before (a good sync: their credentials and ids are known to work). So one workspace's new
accounts, however many and however they fail, can never hold a platform for every other tenant;
a real outage, which fails everyone's syncs, still holds it within the same counts.

While held, the dispatcher claims none of its accounts and a sync that reaches the budget is
refused with `OutageHold` before any call. A held account's row is left as it was and its `next_sync_at` goes back to when it first
became due (`worker.schedule.place_in_queue`), so when the hold ends the dispatcher, which claims
most overdue first, drains the backlog stalest first. After a hold comes a *probe* as long as the
hold: the dispatcher claims at most `probe_syncs` per tick; the first `down` of an account that
had read well re-holds (any other `down` is counted as outside a probe), the first `up` ends the
probe.

The hold, the probe and the window are plain values compared with the script's clock (Redis'
TIME, or the virtual clock of the capacity simulation, as in `worker.budget`); their TTLs only
clean up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import redis

from adapters.errors import PlatformError, PlatformUnavailable, RateLimited, RequestNotSent, RetryLater
from worker.names import KEY_PREFIX
from worker.script_clock import script_clock

Health = Literal["up", "down"]


@dataclass(frozen=True)
class OutagePolicy:
    min_failures: int = 20
    failure_ratio: float = 0.5
    window: timedelta = timedelta(seconds=60)
    hold: timedelta = timedelta(seconds=60)
    probe_syncs: int = 5
    # Distinct workspaces whose `down` syncs a hold needs (unless previously good accounts failed).
    min_workspaces: int = 3

    @property
    def enabled(self) -> bool:
        return self.min_failures > 0


def hold_key(platform: str) -> str:
    """Holds the hold's end in ms (the script's clock); also read by the budget scripts."""
    return f"{KEY_PREFIX}:outage:hold:{platform}"


def probe_key(platform: str) -> str:
    """Holds the probe's end in ms: until then at most `probe_syncs` claims per tick."""
    return f"{KEY_PREFIX}:outage:probe:{platform}"


def window_key(platform: str) -> str:
    return f"{KEY_PREFIX}:outage:window:{platform}"


def health_of(error: BaseException | None) -> Health | None:
    """What one sync's outcome says about its platform (None: nothing)."""
    if error is None:
        return "up"
    if isinstance(error, RateLimited | RequestNotSent):
        return None  # our budget, the platform's limit, or a request never sent: no answer to count
    if isinstance(error, PlatformUnavailable | RetryLater):
        return "down"
    # Any other platform error was an answer; anything else is ours.
    return "up" if isinstance(error, PlatformError) else None


# KEYS: window, hold, probe. ARGV: 1 for up / 0 for down, window ms, min failures, failure ratio,
# hold ms, min workspaces, the sync's workspace, 1 if its account had read well before (else 0),
# and optionally the clock in ms. Returns 1 when this outcome started a hold, else 0.
# The window hash holds the counts ('since', 'up', 'down', 'trusted': downs of accounts that had
# read well, 'workspaces': distinct workspaces with a down) and one 'w:<workspace>' field per
# workspace with a down, so the distinct count needs no second key or round trip.
RECORD_SCRIPT = (
    script_clock(9)
    + """
local up = ARGV[1] == '1'
local window_ms, min_failures = tonumber(ARGV[2]), tonumber(ARGV[3])
local ratio, hold_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local min_workspaces, workspace, trusted = tonumber(ARGV[6]), ARGV[7], ARGV[8] == '1'
local held_until = tonumber(redis.call('GET', KEYS[2]) or '0')
local probe_until = tonumber(redis.call('GET', KEYS[3]) or '0')
local cleanup = (hold_ms * 2 + window_ms) * 10
local function hold()
  redis.call('SET', KEYS[2], tostring(now + hold_ms), 'PX', cleanup)
  redis.call('SET', KEYS[3], tostring(now + hold_ms * 2), 'PX', cleanup)
  redis.call('DEL', KEYS[1])
  return 1
end
if held_until > now then return 0 end  -- a sync that was in flight when the hold began
if probe_until > now then
  -- A probe re-holds on the down of an account known to work; a new account's down is only
  -- counted, as outside a probe (it may be failing on its own).
  if not up and trusted then return hold() end
  if up then redis.call('DEL', KEYS[3]) end  -- the platform answered a probe: the outage is over
end
local state = redis.call('HMGET', KEYS[1], 'since', 'up', 'down', 'trusted', 'workspaces')
local since, ups, downs = tonumber(state[1]), tonumber(state[2]) or 0, tonumber(state[3]) or 0
local good, spread = tonumber(state[4]) or 0, tonumber(state[5]) or 0
if since == nil or now - since > window_ms then
  since, ups, downs, good, spread = now, 0, 0, 0, 0
  redis.call('DEL', KEYS[1])
end
if up then
  ups = ups + 1
else
  downs = downs + 1
  if trusted then good = good + 1 end
  if redis.call('HSETNX', KEYS[1], 'w:' .. workspace, 1) == 1 then spread = spread + 1 end
end
if not up and downs >= min_failures and downs >= ratio * (ups + downs)
    and (spread >= min_workspaces or good >= min_failures) then
  return hold()
end
redis.call('HSET', KEYS[1], 'since', tostring(since), 'up', ups, 'down', downs, 'trusted', good,
  'workspaces', spread)
redis.call('PEXPIRE', KEYS[1], window_ms * 2)
return 0
"""
)


class OutageDetector:
    """Counts outcomes per platform and starts holds (thread-safe, as redis-py is)."""

    def __init__(
        self, client: redis.Redis, policy: OutagePolicy, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.policy = policy
        self._clock = clock  # the capacity simulation's virtual clock; production: Redis' TIME
        self._record = client.register_script(RECORD_SCRIPT)

    def record(
        self,
        platform: str,
        health: Health,
        client: Any = None,
        *,
        workspace: str = "",
        trusted: bool = False,
    ) -> Any:
        """Count one outcome of an account of `workspace` (`trusted`: it had read well before);
        with `client` a pipeline, queue it there (its reply is then the pipeline's: 1 if it
        started a hold)."""
        if not self.policy.enabled:
            return 0
        policy = self.policy
        args: list[Any] = [
            1 if health == "up" else 0,
            to_ms(policy.window),
            policy.min_failures,
            policy.failure_ratio,
            to_ms(policy.hold),
            policy.min_workspaces,
            workspace,
            1 if trusted else 0,
        ]
        if self._clock is not None:
            args.append(int(self._clock().timestamp() * 1000))
        keys = [window_key(platform), hold_key(platform), probe_key(platform)]
        return self._record(keys=keys, args=args, client=client)


def to_ms(delta: timedelta) -> int:
    return max(int(delta.total_seconds() * 1000), 1)
