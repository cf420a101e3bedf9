"""Per-workspace limit on `refresh=true` requests, shared by every API process through Redis.

Each refresh can cost platform calls out of budgets that all workspaces share, so a fixed
one-minute window is enough: it is cheap (one INCR) and its Retry-After is exact.
"""

from __future__ import annotations

import time

import redis

from api.errors import RateLimited

WINDOW_SECONDS = 60


def window_key(workspace_id: str, window: int) -> str:
    return f"dravo:api:refresh-rate:{workspace_id}:{window}"


def check_refresh_rate(
    client: redis.Redis, workspace_id: str, per_minute: int, now: float | None = None
) -> None:
    """Count one refresh request; raise RateLimited past `per_minute` in the current window."""
    at = time.time() if now is None else now
    window = int(at // WINDOW_SECONDS)
    key = window_key(workspace_id, window)
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS * 2)
    count = int(pipe.execute()[0])
    if count > per_minute:
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - at + 0.999))
        raise RateLimited(
            f"Too many refresh requests for this workspace (limit {per_minute} per minute); "
            f"retry in {retry_after} s or call without refresh=true.",
            retry_after=retry_after,
        )
