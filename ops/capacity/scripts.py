"""The production budget and outage scripts, many calls to one round trip (the simulation's).

A million accounts make hundreds of thousands of syncs an hour; sent one script call each, most
of the simulation's time went into redis-py packing their arguments. So the text of
`worker.budget`'s acquire script and `worker.outage`'s record script, unchanged, is wrapped as
two Lua functions (`KEYS` and `ARGV` become their parameters) and called once per sync and per
outcome from one script per step, in order: the same grants, refusals and holds as one call
each. What is the same for every call of a platform (its keys, budgets and outage policy) is
written into the script's text once, so a call sends only what changes: the platform, the
account, the calls wanted or the health, and the clock. The key names come from the production
helpers (`worker.budget.budget_key`, `worker.outage.*_key`); keys passed as values rather than `KEYS`
are fine on the simulation's private, non-clustered Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from worker.budget import ACQUIRE_SCRIPT, PlatformBudget, budget_key
from worker.outage import RECORD_SCRIPT, Health, OutagePolicy, hold_key, probe_key, to_ms, window_key


@dataclass(frozen=True)
class Acquire:
    platform: str
    account_id: str
    calls: int


@dataclass(frozen=True)
class Record:
    platform: str
    health: Health
    at_ms: int  # the clock when the sync ended
    workspace: str = ""  # the account's workspace (outage holds count distinct ones)
    trusted: bool = False  # the account had read well before


def _lua(text: str) -> str:
    if '"' in text or "\\" in text or "\n" in text:
        raise ValueError(f"not a plain key: {text!r}")
    return f'"{text}"'


def _platform_table(platform: str, budget: PlatformBudget, policy: OutagePolicy) -> str:
    # Arguments exactly as RedisRateBudget._acquire_call and OutageDetector.record send them
    # (numbers as the strings redis-py would encode; a scheduled sync's reserve floor is 0).
    fields = {
        "app": _lua(budget_key(platform, "app")),
        "user": _lua(budget_key(platform, "user") + ":"),
        "app_pause": _lua(budget_key(platform, "app", kind="pause")),
        "user_pause": _lua(budget_key(platform, "user", kind="pause") + ":"),
        "hold": _lua(hold_key(platform)),
        "probe": _lua(probe_key(platform)),
        "window": _lua(window_key(platform)),
        "app_calls": _lua(str(budget.app.calls)),
        "app_ms": _lua(str(budget.app.seconds * 1000)),
        "user_calls": _lua(str(budget.user.calls)),
        "user_ms": _lua(str(budget.user.seconds * 1000)),
        "window_ms": _lua(str(to_ms(policy.window))),
        "min_failures": _lua(str(policy.min_failures)),
        "ratio": _lua(repr(float(policy.failure_ratio))),
        "hold_ms": _lua(str(to_ms(policy.hold))),
        "min_workspaces": _lua(str(policy.min_workspaces)),
    }
    return "{" + ", ".join(f"{k} = {v}" for k, v in fields.items()) + "}"


def batch_source(budgets: dict[str, PlatformBudget], policy: OutagePolicy) -> str:
    """ARGV: number of records, then per record (platform number, 1 up / 0 down, workspace, 1 if
    the account had read well / 0, clock ms), then
    the acquires' clock ms and per acquire (platform number, account id, calls). Returns one flat
    array (nested replies cost redis-py a parse each): per record 1 if it started a hold, then
    per acquire granted, wait_ms, which."""
    tables = ",\n  ".join(_platform_table(p, b, policy) for p, b in budgets.items())
    return f"""
local function acquire(KEYS, ARGV)
{ACQUIRE_SCRIPT}
end
local function record(KEYS, ARGV)
{RECORD_SCRIPT}
end
local P = {{
  {tables}
}}
local records, out = tonumber(ARGV[1]), {{}}
local i = 2
for r = 1, records do
  local p = P[tonumber(ARGV[i])]
  out[#out + 1] = record({{p.window, p.hold, p.probe}},
    {{ARGV[i + 1], p.window_ms, p.min_failures, p.ratio, p.hold_ms, p.min_workspaces, ARGV[i + 2],
      ARGV[i + 3], ARGV[i + 4]}})
  i = i + 5
end
local now = ARGV[i]
i = i + 1
while i <= #ARGV do
  local p, account = P[tonumber(ARGV[i])], ARGV[i + 1]
  local reply = acquire({{p.app, p.user .. account, p.app_pause, p.user_pause .. account, p.hold}},
    {{p.app_calls, p.app_ms, p.user_calls, p.user_ms, ARGV[i + 2], '0', now}})
  local n = #out
  out[n + 1] = reply[1]
  out[n + 2] = reply[2]
  out[n + 3] = reply[3]
  i = i + 3
end
return out
"""


class ScriptBatch:
    """Outage records and budget acquires of one step, in one round trip."""

    def __init__(self, client: redis.Redis, budgets: dict[str, PlatformBudget], policy: OutagePolicy):
        self._numbers = {p: n for n, p in enumerate(budgets, start=1)}
        self._policy = policy
        self._script = client.register_script(batch_source(budgets, policy))

    def run(
        self, records: Sequence[Record], acquires: Sequence[Acquire], now_ms: int
    ) -> tuple[list[bool], list[tuple[int, int, int]]]:
        """(per record: it started a hold; per acquire: the acquire script's reply)."""
        if not self._policy.enabled:
            return [False] * len(records), self._run((), acquires, now_ms)[1]  # record counts nothing then
        return self._run(records, acquires, now_ms)

    def _run(
        self, records: Sequence[Record], acquires: Sequence[Acquire], now_ms: int
    ) -> tuple[list[bool], list[tuple[int, int, int]]]:
        if not records and not acquires:
            return [], []
        args: list[Any] = [len(records)]
        for r in records:
            args += [
                self._numbers[r.platform],
                1 if r.health == "up" else 0,
                r.workspace,
                1 if r.trusted else 0,
                r.at_ms,
            ]
        args.append(now_ms)
        for a in acquires:
            args += [self._numbers[a.platform], a.account_id, a.calls]
        out = self._script(keys=[], args=args)
        n = len(records)
        rest = out[n:]
        granted = [(int(rest[k]), int(rest[k + 1]), int(rest[k + 2])) for k in range(0, len(rest), 3)]
        return [int(s) == 1 for s in out[:n]], granted
