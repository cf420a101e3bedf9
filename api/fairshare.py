"""A fair share of a shared resource per workspace: at most `share` holders per workspace at once.

The API's writer pool is small (docs/api.md); without a share, one workspace's burst of
management writes takes every connection and the other workspaces' writes wait out the pool
timeout (503). With it, a workspace waits for its own share only, up to `timeout` seconds, and
then is answered 429 with Retry-After: the flood is slowed, never the neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.errors import TooManyRequests


class WorkspaceShare:
    def __init__(self, share: int, timeout: float) -> None:
        self._share = share
        self._timeout = timeout
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        # Holders and waiters per workspace, so an idle workspace's semaphore is dropped.
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, workspace_id: str) -> AsyncIterator[None]:
        """Hold one of the workspace's `share` places for the block; TooManyRequests after waiting
        `timeout` seconds for one."""
        semaphore = self._semaphores.setdefault(workspace_id, asyncio.Semaphore(self._share))
        self._users[workspace_id] = self._users.get(workspace_id, 0) + 1
        try:
            try:
                await asyncio.wait_for(semaphore.acquire(), self._timeout)
            except TimeoutError:
                raise TooManyRequests(
                    f"Too many management writes of this workspace at once (limit {self._share}); "
                    "retry in 1 s.",
                    retry_after=1,
                ) from None
            try:
                yield
            finally:
                semaphore.release()
        finally:
            self._users[workspace_id] -= 1
            if self._users[workspace_id] == 0:
                del self._users[workspace_id]
                del self._semaphores[workspace_id]

    def in_use(self, workspace_id: str) -> int:
        """Holders and waiters of the workspace right now (for tests and gauges)."""
        return self._users.get(workspace_id, 0)
