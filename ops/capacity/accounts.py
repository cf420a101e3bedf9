"""One platform's accounts in memory: the rows the simulation's dispatcher claims from.

`due` is ordered like the production claim (`ORDER BY next_sync_at, account_id`): a heap of
(next_sync_at, index). A claimed account leaves the heap (in production its lease moves
`next_sync_at` past the sync) and returns with the `next_sync_at` its outcome computed.
Staleness is kept incrementally: a heap of `stale_after` moments popped at each sample.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime

NEVER = float("-inf")  # stale_after of an account never read


@dataclass
class PlatformAccounts:
    platform: str
    count: int
    due: list[tuple[float, int]] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    stale_after: list[float] = field(default_factory=list)  # seconds from the start; NEVER: not read
    stale_at: list[tuple[float, int]] = field(default_factory=list)
    is_stale: list[bool] = field(default_factory=list)
    stale_count: int = 0

    @classmethod
    def pending(cls, platform: str, count: int) -> PlatformAccounts:
        """`count` new accounts, all due at the start (as after an import), none read yet."""
        return cls(
            platform=platform,
            count=count,
            due=[(0.0, i) for i in range(count)],  # sorted, so already a heap
            status=["pending"] * count,
            failures=[0] * count,
            stale_after=[NEVER] * count,
            is_stale=[True] * count,
            stale_count=count,
        )

    @classmethod
    def steady(cls, platform: str, reads: list[tuple[float, float]]) -> PlatformAccounts:
        """Accounts already read: `reads[i]` is (stale_after, next_sync_at) of account i, in
        seconds from the start (the soak's start: each read a random time before it)."""
        rows = cls(
            platform=platform,
            count=len(reads),
            due=[(next_s, i) for i, (_, next_s) in enumerate(reads)],
            status=["synced"] * len(reads),
            failures=[0] * len(reads),
            stale_after=[NEVER] * len(reads),
            is_stale=[True] * len(reads),
            stale_count=len(reads),
        )
        heapq.heapify(rows.due)
        for i, (stale_after_s, _) in enumerate(reads):
            rows.read(i, stale_after_s)
        return rows

    def claim(self, limit: int, now_s: float) -> list[int]:
        """Most overdue first, at most `limit`, only rows due by `now_s`."""
        claimed: list[int] = []
        due = self.due
        while due and len(claimed) < limit and due[0][0] <= now_s:
            claimed.append(heapq.heappop(due)[1])
        return claimed

    def reschedule(self, index: int, next_s: float | None) -> None:
        if next_s is not None:  # None: requires_reconnect, never due again by itself
            heapq.heappush(self.due, (next_s, index))

    def last_read(self, index: int, freshness_s: float) -> float | None:
        """When account `index` was last read (seconds from the start), None if never."""
        stale_after = self.stale_after[index]
        return None if stale_after == NEVER else stale_after - freshness_s

    def read(self, index: int, stale_after_s: float) -> None:
        if self.is_stale[index]:
            self.is_stale[index] = False
            self.stale_count -= 1
        self.stale_after[index] = stale_after_s
        heapq.heappush(self.stale_at, (stale_after_s, index))

    def advance_staleness(self, now_s: float) -> None:
        heap = self.stale_at
        while heap and heap[0][0] <= now_s:
            at, index = heapq.heappop(heap)
            if not self.is_stale[index] and self.stale_after[index] == at:
                self.is_stale[index] = True
                self.stale_count += 1

    def overdue(self, now_s: float) -> int:
        """Rows due but not claimed (O(n): for the sampled backlog only)."""
        return sum(1 for at, _ in self.due if at <= now_s)


def seconds_since(start: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else (moment - start).total_seconds()
