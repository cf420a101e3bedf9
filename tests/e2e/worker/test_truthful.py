"""Truthful rows (docs/worker.md, "Truthful rows: the outcomes") through real worker and beat
processes and the simulator."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.tables import Account, AccountSync
from ops.testing.processes import free_port, wait_until
from simulator.catalog import simulated
from simulator.client import SimulatorClient
from tests.e2e.worker.conftest import attempted, wait_for_rows
from tests.support.accounts import connect, new_workspace
from tests.support.fixtures import Processes


def _last_attempt(row: AccountSync) -> datetime:
    """The attempt a later sync must follow: the earlier wait saw one."""
    assert row.last_attempt_at is not None
    return row.last_attempt_at


FB = simulated("facebook").default_counters
IG = simulated("instagram").default_counters
FB_COUNTERS = {k: FB[k] for k in ("followers_count", "talking_about_count", "were_here_count", "checkins")}


def _sync_again(sessions: sessionmaker[Session], *account_ids: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(AccountSync).where(AccountSync.account_id.in_(account_ids)).values(next_sync_at=utcnow())
        )


def test_pages_with_and_without_insights_permission(
    processes: Processes, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    seeds = {
        "with": ("facebook", "fb-insights", "healthy"),
        "no_read_insights": ("facebook", "fb-no-insights", "no_insights_permission"),
        "ig_no_insights": ("instagram", "ig-no-insights", "missing_permission"),
    }
    ids = {}
    for key, (platform, pid, scenario) in seeds.items():
        sim = simulator.upsert_account(platform, pid, scenario=scenario)
        ids[key] = connect(session_factory, workspace, platform, pid, sim["access_token"])
    processes.worker()
    processes.beat()
    final = wait_for_rows(session_factory, ids.values(), attempted, timeout=30, what="three syncs")

    page = final[ids["with"]]
    assert (page.sync_status, page.warnings) == ("synced", [])
    # Page Insights answers reactions per day as an object by type: summed over types and days.
    assert page.metrics["page_actions_post_reactions_total"] == FB["page_actions_post_reactions_total"] * 28

    bare = final[ids["no_read_insights"]]
    assert bare.sync_status == "partial"
    assert bare.metrics == FB_COUNTERS
    assert bare.warnings == ["Facebook Page insight metrics unavailable: reconnect and grant read_insights."]
    assert bare.next_sync_at is not None  # syncing goes on

    ig = final[ids["ig_no_insights"]]
    assert ig.sync_status == "partial"
    assert ig.metrics == {"follower_count": IG["followers_count"]}
    assert any("reconnect and grant instagram_business_manage_insights" in w for w in ig.warnings)


def test_one_accounts_refusal_never_changes_another_workspaces_row(
    processes: Processes, simulator: SimulatorClient, session_factory: sessionmaker[Session]
) -> None:
    first, second = new_workspace(session_factory, "first"), new_workspace(session_factory, "second")
    mine = simulator.upsert_account("facebook", "fb-ws1")
    theirs = simulator.upsert_account("facebook", "fb-ws2")
    mine_id = connect(session_factory, first, "facebook", "fb-ws1", mine["access_token"])
    theirs_id = connect(session_factory, second, "facebook", "fb-ws2", theirs["access_token"])
    processes.worker()
    processes.beat()
    ids = [mine_id, theirs_id]
    before = wait_for_rows(
        session_factory, ids, lambda r: r.sync_status == "synced", timeout=30, what="synced"
    )
    last_views = before[mine_id].metrics["page_video_views"]

    # Facebook refuses page_video_views for one account, with its retirement wording.
    simulator.set_scenario("facebook", "fb-ws1", "retired_metric", metric="page_video_views")
    _sync_again(session_factory, *ids)
    after = wait_for_rows(
        session_factory,
        ids,
        lambda r: r.last_attempt_at is not None and r.last_attempt_at > _last_attempt(before[r.account_id]),
        timeout=30,
        what="second syncs",
    )
    refused = after[mine_id]
    assert refused.sync_status == "partial"
    assert refused.metrics["page_video_views"] == last_views  # the last good value is carried
    assert any("page_video_views" in w for w in refused.warnings)
    other = after[theirs_id]
    assert (other.sync_status, other.warnings) == ("synced", [])
    assert "page_video_views" in other.metrics

    # Later syncs of the refusing account skip the metric and stay partial with its last value;
    # the other workspace still asks for it (one workspace never retires a metric platform-wide).
    calls_before = simulator.request_counts("facebook", "fb-ws1").get("insights", 0)
    _sync_again(session_factory, *ids)
    third = wait_for_rows(
        session_factory,
        ids,
        lambda r: r.last_attempt_at is not None and r.last_attempt_at > _last_attempt(after[r.account_id]),
        timeout=30,
        what="third syncs",
    )
    assert third[mine_id].sync_status == "partial"
    assert third[mine_id].metrics["page_video_views"] == last_views
    assert (
        simulator.request_counts("facebook", "fb-ws1")["insights"] == calls_before + 1
    )  # no isolating again
    assert third[theirs_id].sync_status == "synced"


def test_an_operator_problem_fails_the_row_and_is_counted_by_cause(
    processes: Processes, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    sim = simulator.upsert_account("facebook", "fb-app", scenario="app_not_approved")
    account_id = connect(session_factory, workspace, "facebook", "fb-app", sim["access_token"])
    port = free_port()
    processes.env["DRAVO_WORKER_METRICS_PORT"] = str(port)
    worker = processes.worker()
    processes.beat()
    row = wait_for_rows(session_factory, [account_id], attempted, timeout=30, what="the sync")[account_id]
    assert row.sync_status == "failed"
    assert row.error_message and "platform setup of this service needs attention" in row.error_message
    assert row.next_sync_at is not None  # not waiting for a reconnect that fixes nothing
    wait_until(lambda: "sync.operator_action_needed" in worker.log_text(), 10, 0.2, "the error log line")
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'dravo_operator_problems_total{cause="app_permission",platform="facebook"} 1.0' in body
    assert 'dravo_budget_app_available_ratio{platform="facebook"}' in body  # the exporter reads the budgets


def test_a_token_connected_without_expiry_learns_it_on_its_first_sync(
    processes: Processes, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    sim = simulator.upsert_account("instagram", "ig-no-expiry")
    account_id = connect(session_factory, workspace, "instagram", "ig-no-expiry", sim["access_token"])
    processes.worker()
    processes.beat()
    row = wait_for_rows(session_factory, [account_id], attempted, timeout=30, what="the sync")[account_id]
    assert row.sync_status == "synced"
    assert simulator.request_counts("instagram", "ig-no-expiry")["refresh_access_token"] == 1
    with session_factory() as session:
        expires_at = session.get_one(Account, account_id).token_expires_at
    # Instagram's refresh reply says 60 days: from now on it is refreshed 7 days before that.
    assert expires_at is not None and expires_at > utcnow() + timedelta(days=59)


def test_a_retirement_confirmed_by_two_workspaces_is_skipped_everywhere(
    processes: Processes, simulator: SimulatorClient, session_factory: sessionmaker[Session]
) -> None:
    workspaces = [new_workspace(session_factory, name) for name in ("w1", "w2", "w3")]
    ids = {}
    for n, workspace in enumerate(workspaces):
        pid = f"fb-retire-{n}"
        # Two accounts, in two workspaces, see Facebook's retirement wording; the third does not yet.
        scenario = "retired_metric" if n < 2 else "healthy"
        sim = simulator.upsert_account(
            "facebook", pid, scenario=scenario, params={"metric": "page_video_views"}
        )
        ids[pid] = connect(session_factory, workspace, "facebook", pid, sim["access_token"])
    processes.env["DRAVO_CATALOG_CACHE_SECONDS"] = "0"
    processes.worker()
    processes.beat()
    first = wait_for_rows(session_factory, ids.values(), attempted, timeout=30, what="first syncs")
    assert first[ids["fb-retire-2"]].sync_status == "synced"

    _sync_again(session_factory, ids["fb-retire-2"])
    again = wait_for_rows(
        session_factory,
        [ids["fb-retire-2"]],
        lambda r: r.last_attempt_at is not None and r.last_attempt_at > _last_attempt(first[r.account_id]),
        timeout=30,
        what="the third account's next sync",
    )[ids["fb-retire-2"]]
    # Retired platform-wide now: not requested, its absence a note, the row still synced.
    assert again.sync_status == "synced"
    assert "page_video_views" not in again.metrics
    assert any("no longer provides page_video_views" in w for w in again.warnings)


def test_a_sunset_api_version_fails_for_the_operator_never_for_the_user(
    processes: Processes, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    org = "urn:li:organization:5150"
    sim = simulator.upsert_account("linkedin", org)
    account_id = connect(session_factory, workspace, "linkedin", org, sim["access_token"])
    # LinkedIn switched 202511 off on 2026-11-16 (migrations page); the simulator goes by the calendar.
    processes.env["DRAVO_LINKEDIN_API_VERSION"] = "202511"
    processes.worker()
    processes.beat()
    row = wait_for_rows(session_factory, [account_id], attempted, timeout=30, what="the sync")[account_id]
    assert row.sync_status == "failed"
    assert row.error_message and "platform setup of this service needs attention" in row.error_message
    assert row.next_sync_at is not None
