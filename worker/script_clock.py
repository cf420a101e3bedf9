"""The clock of our Redis Lua scripts (budgets, outage holds): one preamble for all of them.

Production passes no clock and the script reads Redis' TIME, so every worker shares one clock; the
capacity simulation passes its virtual clock in ms as an optional last argument, so it runs these
very scripts.
"""

from __future__ import annotations


def script_clock(argument: int) -> str:
    """Lua lines that set `now` (ms) from ARGV[argument] when given, else from Redis' TIME."""
    return f"""local now = tonumber(ARGV[{argument}] or '')
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""
