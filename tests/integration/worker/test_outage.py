"""Outage holds (worker.outage) on a real Redis: the detector's script on a virtual clock, what the
budget then refuses and lets the dispatcher claim, and one held sync end to end in process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import AccountRef
from adapters.errors import OutageHold
from ops.foundation.settings import Settings, get_settings
from simulator.client import SimulatorClient
from tests.integration.worker.test_sync_runner import row
from tests.support.accounts import connect
from worker.budget import PlatformBudget, Rate, RedisRateBudget
from worker.composition import WorkerDeps, build_deps
from worker.names import sync_done_channel
from worker.outage import OutageDetector, OutagePolicy, hold_key
from worker.sync import SyncRunner

POLICY = OutagePolicy(
    min_failures=5, failure_ratio=0.5, window=timedelta(seconds=60), hold=timedelta(seconds=30), probe_syncs=2
)
RATES = PlatformBudget(app=Rate.parse("1000/60", "app"), user=Rate.parse("100/60", "user"))
ALICE = AccountRef(account_id="acc_alice", platform="tiktok", platform_account_id="1")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def detector(redis_client: redis.Redis, clock: Clock) -> OutageDetector:
    return OutageDetector(redis_client, POLICY, clock=clock)


@pytest.fixture
def budget(redis_client: redis.Redis, clock: Clock) -> RedisRateBudget:
    return RedisRateBudget(redis_client, {"tiktok": RATES, "x": RATES}, probe_syncs=2, clock=clock)


def downs(detector: OutageDetector, n: int, platform: str = "tiktok") -> list[int]:
    return [int(detector.record(platform, "down")) for _ in range(n)]


def test_enough_failures_hold_the_platform_and_only_it(
    detector: OutageDetector, budget: RedisRateBudget, clock: Clock
) -> None:
    assert downs(detector, 4) == [0, 0, 0, 0]
    assert budget.dispatchable("tiktok") > 0
    assert downs(detector, 1) == [1]  # the fifth starts the hold
    assert budget.dispatchable("tiktok") == 0
    with pytest.raises(OutageHold) as held:
        budget.acquire(ALICE)
    assert held.value.retry_at == clock.now + POLICY.hold
    assert held.value.limit == "TikTok outage hold"
    # Syncs that were in flight when it began fail too: they neither lengthen nor restart it.
    assert downs(detector, 10) == [0] * 10
    assert budget.dispatchable("x") > 0  # another platform is not held


def test_failures_among_many_answers_do_not_hold(detector: OutageDetector, budget: RedisRateBudget) -> None:
    for _ in range(30):
        detector.record("tiktok", "up")
    assert downs(detector, 20) == [0] * 20  # 20 of 50: under the ratio
    assert budget.dispatchable("tiktok") > 0


def test_failures_spread_beyond_the_window_do_not_hold(detector: OutageDetector, clock: Clock) -> None:
    for _ in range(10):
        assert downs(detector, 2) == [0, 0]
        clock.advance(61)


def test_after_the_hold_a_probe_limits_claims_until_an_answer(
    detector: OutageDetector, budget: RedisRateBudget, clock: Clock
) -> None:
    downs(detector, 5)
    clock.advance(31)
    assert budget.dispatchable("tiktok") == 2  # the probe: at most probe_syncs per tick
    budget.acquire(ALICE)  # no longer refused
    # A probe that finds the platform still down holds it again at once.
    assert downs(detector, 1) == [1]
    assert budget.dispatchable("tiktok") == 0
    clock.advance(31)
    assert budget.dispatchable("tiktok") == 2
    detector.record("tiktok", "up")  # it answered: the outage is over
    assert budget.dispatchable("tiktok") > 2
    assert downs(detector, 4) == [0, 0, 0, 0]  # counting starts afresh


def test_the_probe_ends_by_itself(detector: OutageDetector, budget: RedisRateBudget, clock: Clock) -> None:
    downs(detector, 5)
    clock.advance(61)  # the hold and a probe as long as it, with no sync at all
    assert budget.dispatchable("tiktok") > 2


def test_min_failures_zero_turns_holds_off(redis_client: redis.Redis, clock: Clock) -> None:
    off = OutageDetector(redis_client, OutagePolicy(min_failures=0), clock=clock)
    assert [off.record("tiktok", "down") for _ in range(50)] == [0] * 50
    assert not redis_client.exists(hold_key("tiktok"))


@pytest.fixture
def held_deps(
    settings: Settings,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[WorkerDeps]:
    monkeypatch.setenv("DRAVO_OUTAGE_MIN_FAILURES", "2")
    monkeypatch.setenv("DRAVO_OUTAGE_HOLD_SECONDS", "120")
    get_settings.cache_clear()
    built = build_deps(get_settings(), pool_size=4)
    yield built
    built.close()
    get_settings.cache_clear()


def test_a_held_platform_is_not_called_and_its_rows_keep_their_place(
    held_deps: WorkerDeps, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    accounts = []
    for n in range(3):
        sim = simulator.upsert_account("tiktok", f"held-{n}")
        accounts.append(connect(session_factory, workspace, "tiktok", f"held-{n}", sim["access_token"]))
    runner = SyncRunner(held_deps)
    runner.run(accounts[0], None, "inline")  # a good read first: its place is known
    read = row(session_factory, accounts[0])
    assert read.sync_status == "synced" and read.last_updated_at is not None

    simulator.set_outage("tiktok", 120)
    for account in accounts[1:]:  # two syncs find TikTok down: the second starts the hold
        assert runner.run(account, None, "inline").sync_status == "failed"
    assert held_deps.budget.dispatchable("tiktok") == 0

    before = simulator.total_requests("tiktok", "held-0")
    report = runner.run(accounts[0], None, "inline")
    assert report.written and report.calls == 0
    assert simulator.total_requests("tiktok", "held-0") == before  # not called
    held = row(session_factory, accounts[0])
    assert (held.sync_status, held.metrics, held.last_updated_at) == (
        "synced",
        read.metrics,
        read.last_updated_at,
    )
    policy = held_deps.policies["tiktok"]
    # Back to when it became due (here: still ahead), not pushed behind the hold.
    assert held.next_sync_at == read.last_updated_at + policy.freshness * (1 - policy.margin_fraction)
    assert held.deferred_note is not None and held.deferred_note.startswith(
        "TikTok outage hold: next attempt"
    )
    simulator.set_outage("tiktok", 0)


def test_with_holds_off_a_listened_sync_never_reads_as_a_hold(
    settings: Settings,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    simulator: SimulatorClient,
    workspace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No outcome is counted, so the pipeline's last reply is PUBLISH's listener count (1 here)."""
    monkeypatch.setenv("DRAVO_OUTAGE_MIN_FAILURES", "0")
    get_settings.cache_clear()
    deps = build_deps(get_settings(), pool_size=2)
    try:
        sim = simulator.upsert_account("tiktok", "listened")
        account_id = connect(session_factory, workspace, "tiktok", "listened", sim["access_token"])
        before = REGISTRY.get_sample_value("dravo_platform_outage_holds_total", {"platform": "tiktok"}) or 0
        with redis_client.pubsub() as listener:  # type: ignore[no-untyped-call, unused-ignore]
            listener.subscribe(sync_done_channel(account_id))
            assert SyncRunner(deps).run(account_id, None, "inline").sync_status == "synced"
        after = REGISTRY.get_sample_value("dravo_platform_outage_holds_total", {"platform": "tiktok"}) or 0
        assert after == before
        assert not redis_client.exists(hold_key("tiktok"))
    finally:
        deps.close()
        get_settings.cache_clear()
