"""Helpers of the fault suite: seeding many accounts, grouping platform calls into syncs, and
scanning everything the processes wrote for credentials."""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import PLATFORMS as PLATFORMS  # re-exported to the fault tests
from models.tables import AccountSync, MetricSnapshot
from ops.foundation import platforms as platform_registry
from simulator.client import SimulatorClient
from tests.support.accounts import connect

# Platform calls of one healthy sync, per platform, as the simulator counts them: the registry's
# `calls_per_sync` (its estimated_calls_per_sync is what the dispatcher plans with).
OBSERVED_CALLS_PER_SYNC = platform_registry.calls_per_sync()


def platform_account_id(platform: str, tag: str, n: int) -> str:
    if platform == "linkedin":
        return f"urn:li:organization:{zlib.crc32(tag.encode()) % 10_000 * 100_000 + n}"
    return f"{platform}-{tag}-{n}"


@dataclass(frozen=True)
class Seeded:
    account_id: str
    platform: str
    platform_account_id: str


def seed(
    simulator: SimulatorClient,
    sessions: sessionmaker[Session],
    workspace_id: str,
    platforms: Iterable[str],
    per_platform: int,
    tag: str,
    scan: CredentialScan | None = None,
    **account: Any,
) -> list[Seeded]:
    """Accounts on the simulator and connected in dravo-sync (due at once)."""
    seeded = []
    for platform in platforms:
        for n in range(per_platform):
            pid = platform_account_id(platform, tag, n)
            state = simulator.upsert_account(platform, pid, **account)
            if scan is not None:
                scan.add_state(state)
            account_id = connect(
                sessions,
                workspace_id,
                platform,
                pid,
                state["access_token"],
                refresh_token=state["refresh_token"],
                # A known expiry: with none, a refreshable token is refreshed on its first sync to
                # learn it (docs/platforms.md), which is one more call than these tests count.
                expires_at=datetime.now(UTC) + timedelta(days=30),
            )
            seeded.append(Seeded(account_id, platform, state["platform_account_id"]))
    return seeded


def sync_rows(sessions: sessionmaker[Session], ids: Iterable[str]) -> dict[str, AccountSync]:
    wanted = list(ids)
    with sessions() as session:
        found = session.scalars(select(AccountSync).where(AccountSync.account_id.in_(wanted))).all()
        return {row.account_id: row for row in found}


def snapshot_counts(sessions: sessionmaker[Session], ids: Iterable[str]) -> dict[str, int]:
    wanted = list(ids)
    query = (
        select(MetricSnapshot.account_id, func.count())
        .where(MetricSnapshot.account_id.in_(wanted))
        .group_by(MetricSnapshot.account_id)
    )
    with sessions() as session:
        counts = {str(a): int(n) for a, n in session.execute(query).all()}
    return {i: counts.get(i, 0) for i in wanted}


def calls_by_account(log: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[float]]:
    """Arrival times of the simulator's requests, per (platform, platform_account_id)."""
    calls: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in log:
        calls[(row["platform"], row["platform_account_id"])].append(float(row["at"]))
    return {key: sorted(times) for key, times in calls.items()}


def group_syncs(times: list[float], quiet_seconds: float) -> list[list[float]]:
    """Split one account's call times into syncs: a new sync starts after `quiet_seconds` of silence."""
    groups: list[list[float]] = []
    for at in sorted(times):
        if groups and at - groups[-1][-1] <= quiet_seconds:
            groups[-1].append(at)
        else:
            groups.append([at])
    return groups


def scrape(url: str, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    response = httpx.get(url, timeout=10, headers=headers)
    response.raise_for_status()
    return response.text


@dataclass
class CredentialScan:
    """Every token the simulator issued and every secret we configured, looked for in everything
    the processes wrote: log files, `error_message`/`deferred_note` values, /metrics pages."""

    secrets: set[str] = field(default_factory=set)
    paths: list[Path] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)

    def add_state(self, state: Mapping[str, Any]) -> None:
        for key in ("access_token", "refresh_token"):
            if state.get(key):
                self.secrets.add(str(state[key]))

    def collect(self, simulator: SimulatorClient) -> None:
        """The tokens every simulated account holds now (after any refresh or rotation)."""
        for state in simulator.accounts():
            self.add_state(state)

    def add_rows(self, sessions: sessionmaker[Session]) -> None:
        with sessions() as session:
            for account_id, message, note in session.execute(
                select(AccountSync.account_id, AccountSync.error_message, AccountSync.deferred_note)
            ):
                if message or note:
                    self.texts[f"account_sync {account_id}"] = f"{message or ''}\n{note or ''}"

    def needles(self) -> dict[str, str]:
        """Each secret, and for long ones its random tail too (a cut-off copy still leaks)."""
        found: dict[str, str] = {}
        for secret in self.secrets:
            found[secret] = secret
            if len(secret) >= 32:
                found[secret[-20:]] = secret
        return found

    def check(self) -> dict[str, int]:
        """AssertionError naming the leak; otherwise how much was scanned."""
        needles = self.needles()
        assert len(self.secrets) > 0, "no secrets collected: the scan would prove nothing"
        pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
        sources: dict[str, str] = dict(self.texts)
        for root in self.paths:
            for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
                if path.is_file():
                    sources[str(path)] = path.read_text(errors="replace")
        leaks = [
            f"{name}: ...{text[max(0, m.start() - 60) : m.end() + 20]!r}"
            for name, text in sources.items()
            for m in pattern.finditer(text)
        ]
        assert not leaks, f"credentials leaked in {len(leaks)} place(s):\n" + "\n".join(leaks[:20])
        return {
            "secrets": len(self.secrets),
            "sources": len(sources),
            "bytes": sum(len(t) for t in sources.values()),
        }
