"""Metric memory over metric_refusals: per account and login flavour; retired platform-wide only
when accounts of enough workspaces saw the platform's retirement wording (docs/worker.md,
"The metric catalog")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from adapters.base import AccountRef, RejectedMetric
from models.catalog import DbMetricCatalog
from tests.support.accounts import connect, new_workspace

RETIRED = "(#100) The value must be a valid insights metric"


def _account(
    sessions: sessionmaker[Session], workspace: str, pid: str, platform: str = "facebook"
) -> AccountRef:
    account_id = connect(sessions, workspace, platform, pid, f"token-{pid}")
    return AccountRef(account_id, platform, pid)  # type: ignore[arg-type]


def test_a_refusal_stays_with_its_account(session_factory: sessionmaker[Session]) -> None:
    one, two = new_workspace(session_factory, "one"), new_workspace(session_factory, "two")
    a, b = _account(session_factory, one, "p-a"), _account(session_factory, two, "p-b")
    catalog = DbMetricCatalog(session_factory, cache_seconds=0)
    catalog.reject(a, RejectedMetric("facebook", "page_video_views", RETIRED, retirement=True))
    catalog.reject(a, RejectedMetric("facebook", "page_video_views", RETIRED, retirement=True))  # idempotent
    assert catalog.memory(a).refused == {"page_video_views"}
    assert catalog.memory(a).retired == frozenset()
    assert catalog.memory(b).skipped() == frozenset()
    # The other login flavour of the same account is its own memory.
    assert catalog.memory(AccountRef(a.account_id, "facebook", "p-a", auth="facebook")).refused == frozenset()


def test_retirement_needs_accounts_of_two_workspaces(session_factory: sessionmaker[Session]) -> None:
    one, two = new_workspace(session_factory, "one"), new_workspace(session_factory, "two")
    a1, a2 = _account(session_factory, one, "r-1"), _account(session_factory, one, "r-2")
    b1, c = _account(session_factory, two, "r-3"), _account(session_factory, two, "r-4")
    catalog = DbMetricCatalog(session_factory, cache_seconds=0, min_workspaces=2)
    for account in (a1, a2):
        catalog.reject(account, RejectedMetric("facebook", "page_total_actions", RETIRED, retirement=True))
    assert catalog.memory(c).retired == frozenset()  # two accounts, one workspace
    catalog.reject(b1, RejectedMetric("facebook", "page_total_actions", "no permission", retirement=False))
    assert catalog.memory(c).retired == frozenset()  # a permission refusal confirms nothing
    catalog.reject(b1, RejectedMetric("facebook", "page_total_actions", RETIRED, retirement=True))
    assert catalog.memory(c).retired == {"page_total_actions"}
    assert (
        DbMetricCatalog(session_factory, cache_seconds=0, min_workspaces=3).memory(c).retired == frozenset()
    )


def test_the_platform_wide_set_is_cached_per_process(session_factory: sessionmaker[Session]) -> None:
    one, two = new_workspace(session_factory, "one"), new_workspace(session_factory, "two")
    a, b = _account(session_factory, one, "k-1", "x"), _account(session_factory, two, "k-2", "x")
    cached = DbMetricCatalog(session_factory, cache_seconds=60)
    assert cached.memory(a).retired == frozenset()
    writer = DbMetricCatalog(session_factory, cache_seconds=0)
    for account in (a, b):
        writer.reject(account, RejectedMetric("x", "verified_followers_count", "invalid", retirement=True))
    assert cached.memory(a).retired == frozenset()  # still cached: no extra query per sync
    assert cached.memory(a).refused == {"verified_followers_count"}  # an account's own: always read
    cached.invalidate()
    assert cached.memory(a).retired == {"verified_followers_count"}


def test_an_old_refusal_is_tried_again(session_factory: sessionmaker[Session]) -> None:
    account = _account(session_factory, new_workspace(session_factory), "o-1", "x")
    long_ago = datetime.now(UTC) - timedelta(days=30)
    DbMetricCatalog(session_factory, cache_seconds=0, clock=lambda: long_ago).reject(
        account, RejectedMetric("x", "verified_followers_count", "field rejected")
    )
    catalog = DbMetricCatalog(session_factory, cache_seconds=0, recheck_after=timedelta(days=7))
    assert catalog.memory(account).refused == frozenset()
    catalog.reject(account, RejectedMetric("x", "verified_followers_count", "still rejected"))
    assert catalog.memory(account).refused == {"verified_followers_count"}
