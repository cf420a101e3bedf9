"""Outage holds (worker.outage) on a real Redis: the detector's script on a virtual clock (one
workspace's failing accounts never hold, several workspaces' or previously good accounts' do),
what the budget then refuses and lets the dispatcher claim, one held sync end to end in process,
and a request that could not be sent counted as nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import AccountRef
from adapters.errors import OutageHold, RequestNotSent
from ops.foundation.settings import Settings, get_settings
from simulator.client import SimulatorClient
from tests.integration.worker.test_sync_runner import row
from tests.support.accounts import connect
from worker.budget import PlatformBudget, Rate, RedisRateBudget, budget_key
from worker.composition import WorkerDeps, build_deps
from worker.names import sync_done_channel
from worker.outage import OutageDetector, OutagePolicy, health_of, hold_key, window_key
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


def downs(
    detector: OutageDetector,
    n: int,
    platform: str = "tiktok",
    *,
    workspaces: int = 3,
    trusted: bool = False,
    first: int = 0,
) -> list[int]:
    """`n` syncs that found `platform` down, from accounts of `workspaces` workspaces in turn."""
    return [
        int(detector.record(platform, "down", workspace=f"ws_{(first + k) % workspaces}", trusted=trusted))
        for k in range(n)
    ]


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
    # A probe that finds the platform still down (an account that had read well) holds it again.
    assert downs(detector, 1, trusted=True) == [1]
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


def test_one_workspaces_failing_accounts_never_hold(
    detector: OutageDetector, budget: RedisRateBudget
) -> None:
    # A tenant's own new accounts failing (bad credentials, its own mistakes), however many.
    assert downs(detector, 100, workspaces=1) == [0] * 100
    assert budget.dispatchable("tiktok") > 0


def test_failures_from_several_workspaces_hold(detector: OutageDetector) -> None:
    # Two workspaces are not enough (min_workspaces 3), whatever the count...
    assert downs(detector, 10, workspaces=2) == [0] * 10
    # ...a third workspace's failure is: the platform fails everyone.
    assert downs(detector, 1, workspaces=3, first=2) == [1]


def test_failures_of_accounts_that_read_before_hold_even_from_one_workspace(
    detector: OutageDetector,
) -> None:
    # A single-tenant installation: accounts known to work stop working, the platform is down.
    assert downs(detector, 4, workspaces=1, trusted=True) == [0, 0, 0, 0]
    assert downs(detector, 1, workspaces=1, trusted=True) == [1]


def test_new_accounts_failing_during_a_probe_do_not_hold_again(
    detector: OutageDetector, budget: RedisRateBudget, clock: Clock
) -> None:
    assert downs(detector, 5)[-1] == 1
    clock.advance(31)  # the probe
    assert downs(detector, 3, workspaces=1) == [0, 0, 0]
    assert budget.dispatchable("tiktok") == 2  # still probing, not held


@pytest.fixture
def held_deps(
    settings: Settings,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[WorkerDeps]:
    monkeypatch.setenv("DRAVO_OUTAGE_MIN_FAILURES", "2")
    monkeypatch.setenv("DRAVO_OUTAGE_HOLD_SECONDS", "120")
    # The test's accounts share one workspace and the failing ones never read: count them anyway.
    monkeypatch.setenv("DRAVO_OUTAGE_MIN_WORKSPACES", "1")
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


@pytest.mark.parametrize("token", ["act.stored-before\nX-Injected: 1", "act.stored-before\u00e9"])
def test_a_request_that_cannot_be_sent_fails_the_row_and_says_nothing_of_the_platform(
    deps: WorkerDeps,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    workspace: str,
    token: str,
) -> None:
    """A token stored before the input rules (or by any way around them): refused by us, not
    sent, no budget spent, not retried, not an outage vote; the row says so without the token."""
    simulator.upsert_account("tiktok", "unsendable")
    account_id = connect(session_factory, workspace, "tiktok", "unsendable", token)
    report = SyncRunner(deps).run(account_id, None, "inline")
    assert report.written and report.calls == 0
    assert simulator.total_requests("tiktok", "unsendable") == 0
    assert not redis_client.exists(budget_key("tiktok", "app"))  # no token taken from the bucket
    assert not redis_client.exists(window_key("tiktok"))  # counted neither up nor down
    failed = row(session_factory, account_id)
    assert failed.sync_status == "failed" and failed.consecutive_failures == 1
    assert failed.error_message is not None
    assert "could not be sent" in failed.error_message and "stored-before" not in failed.error_message
    assert health_of(RequestNotSent("x")) is None
