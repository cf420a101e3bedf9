"""The dispatcher tick: batches bounded by the app budget, paused apps skipped."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import AccountRef, BudgetObservation
from models.sync_state import DispatchClaim
from ops.foundation.settings import Settings
from tests.support.accounts import connect
from worker.composition import WorkerDeps, build_deps
from worker.dispatch import dispatch_due


@pytest.fixture
def tight_deps(
    settings: Settings, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[WorkerDeps]:
    built = build_deps(settings.with_platform("tiktok", app_budget="5/60"), pool_size=2)
    yield built
    built.close()


def test_the_batch_is_what_the_app_budget_can_carry(
    tight_deps: WorkerDeps, session_factory: sessionmaker[Session], workspace: str
) -> None:
    for i in range(12):
        connect(session_factory, workspace, "tiktok", f"t-{i}", "token")
    for i in range(3):
        connect(session_factory, workspace, "x", f"x-{i}", "token")
    sent: list[DispatchClaim] = []

    def publish(claims: Sequence[DispatchClaim]) -> int:
        sent.extend(claims)
        return len(claims)

    report = dispatch_due(tight_deps, publish)
    assert report.claimed == {"tiktok": 5, "x": 3}
    assert len({c.account_id for c in sent}) == 8

    # Meta-style "usage at 95 %" pauses the app: nothing more is dispatched for it.
    account = AccountRef(account_id="acc_any", platform="tiktok", platform_account_id="t-0")
    tight_deps.budget.observe(account, BudgetObservation(scope="app", usage_percent=95))
    assert dispatch_due(tight_deps, publish).claimed == {}
