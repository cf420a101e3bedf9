"""api.fairshare: a workspace holds at most its share; waiting past the timeout is a 429."""

from __future__ import annotations

import asyncio

import pytest

from api.errors import TooManyRequests
from api.fairshare import WorkspaceShare


def test_a_workspace_holds_at_most_its_share_and_others_are_not_held_up() -> None:
    async def scenario() -> None:
        share = WorkspaceShare(share=2, timeout=0.2)
        release = asyncio.Event()
        running = 0
        peak = 0

        async def hold(workspace: str) -> None:
            nonlocal running, peak
            async with share.hold(workspace):
                running += 1
                peak = max(peak, running)
                await release.wait()
                running -= 1

        flood = [asyncio.create_task(hold("ws_flood")) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert peak == 2 and share.in_use("ws_flood") == 5
        # Another workspace gets in at once, while the flood's extra three wait.
        async with share.hold("ws_other"):
            pass
        results = await asyncio.gather(*flood[2:], return_exceptions=True)
        assert all(isinstance(r, TooManyRequests) for r in results)
        assert results[0].headers == {"Retry-After": "1"}  # type: ignore[union-attr]
        release.set()
        await asyncio.gather(*flood[:2])
        assert share.in_use("ws_flood") == 0 and share.in_use("ws_other") == 0

    asyncio.run(scenario())


def test_a_freed_place_goes_to_a_waiter() -> None:
    async def scenario() -> list[str]:
        share = WorkspaceShare(share=1, timeout=2)
        order: list[str] = []

        async def hold(name: str, seconds: float) -> None:
            async with share.hold("ws_1"):
                order.append(name)
                await asyncio.sleep(seconds)

        await asyncio.gather(hold("first", 0.05), hold("second", 0))
        return order

    assert asyncio.run(scenario()) == ["first", "second"]


@pytest.mark.parametrize("share", [1, 3])
def test_the_share_is_per_workspace(share: int) -> None:
    async def scenario() -> int:
        pool = WorkspaceShare(share=share, timeout=1)
        async with pool.hold("ws_a"):
            return pool.in_use("ws_a") + pool.in_use("ws_b")

    assert asyncio.run(scenario()) == 1
