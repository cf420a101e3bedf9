"""Names shared by the worker, the dispatcher and the API's refresh service.

Kept free of imports (but the registry, which imports nothing) so `worker.refresh` (the only worker module the API imports) stays cheap.
Task names and queue names are part of the wire format: renaming one strands queued messages.
"""

from __future__ import annotations

from typing import Final

from ops.foundation import platforms

SYNC_ACCOUNT: Final = "sync.account"
DISPATCH_DUE: Final = "sync.dispatch_due"
DOWNSAMPLE_HISTORY: Final = "history.downsample"

REFRESH_QUEUE: Final = "refresh"
# The platforms whose scheduled syncs each have a queue (`platform_queue`), in registry order.
PLATFORM_QUEUES: Final = platforms.PLATFORM_NAMES
KEY_PREFIX: Final = "dravo"


def platform_queue(platform: str) -> str:
    """Scheduled syncs go to one queue per platform, so a slow platform can't starve the others."""
    return platforms.spec(platform).queue


def refresh_lock_key(account_id: str) -> str:
    """Single-flight marker of an on-demand refresh (SET NX PX); deleted when the sync ends."""
    return f"{KEY_PREFIX}:refresh:{account_id}"


def sync_done_channel(account_id: str) -> str:
    """Pub/sub channel the task publishes to once an account's outcome is committed."""
    return f"{KEY_PREFIX}:sync-done:{account_id}"
