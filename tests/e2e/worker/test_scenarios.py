"""Every platform x every simulator scenario, through a real worker and beat: the row reaches the
state docs/contract.md section 2 defines, with the platform calls the simulator counted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from simulator.client import SimulatorClient
from simulator.state import scenarios_for
from tests.e2e.worker.conftest import attempted, wait_for_rows
from tests.support.accounts import connect
from tests.support.fixtures import Processes

# Rate limits pause a whole app budget (Meta's x-app-usage says 100 %); they have their own test.
SEPARATE = {"rate_limited"}

# What each scenario must end in. Anything not listed must end synced.
EXPECTED: dict[str, str] = {
    "expired_token": "requires_reconnect",  # no client id configured: no silent refresh
    "revoked_token": "requires_reconnect",
    "missing_permission": "requires_reconnect",
    "lost_access": "requires_reconnect",
    "password_changed": "requires_reconnect",
    "invalid_token": "requires_reconnect",
    "malformed": "failed",
    "wrong_token_type": "failed",
    "transient_error": "failed",
    "client_forbidden": "failed",
    "unsupported_authentication": "failed",
    "credits_depleted": "failed",
    "usage_capped": "failed",
    "invalid_params": "failed",
    "app_not_approved": "failed",  # the app lacks Advanced Access: the operator's, not the user's
}
# Scenarios whose result is a read with something missing, per platform.
PARTIAL = {
    ("instagram", "no_insights"),
    ("facebook", "no_insights"),
    ("linkedin", "no_insights"),
    ("x", "retired_metric"),
    # Insights permission not granted: basic metrics kept (docs/platforms.md).
    ("instagram", "missing_permission"),
    ("facebook", "no_insights_permission"),
    ("linkedin", "no_statistics_permission"),
    ("tiktok", "retired_metric"),
}


def platform_account_id(platform: str, n: int) -> str:
    return f"urn:li:organization:{9000 + n}" if platform == "linkedin" else f"{platform}-{n}"


def expected_status(platform: str, scenario: str) -> str:
    if (platform, scenario) in PARTIAL:
        return "partial"
    return EXPECTED.get(scenario, "synced")


def test_every_platform_and_scenario_reaches_its_contract_state(
    processes: Processes,
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    accounts: dict[str, tuple[str, str, str]] = {}
    n = 0
    for platform in ("instagram", "facebook", "x", "linkedin", "tiktok"):
        for scenario in scenarios_for(platform):
            if scenario in SEPARATE:
                continue
            n += 1
            pid = platform_account_id(platform, n)
            params = {"latency_ms": 300} if scenario == "slow" else {}
            sim = simulator.upsert_account(platform, pid, scenario=scenario, params=params)
            account_id = connect(session_factory, workspace, platform, pid, sim["access_token"])
            accounts[account_id] = (platform, pid, scenario)

    processes.worker(concurrency=16)
    processes.beat()
    final = wait_for_rows(session_factory, accounts, attempted, timeout=60, what="every account attempted")

    wrong = {
        (platform, scenario): (final[a].sync_status, final[a].error_message)
        for a, (platform, _, scenario) in accounts.items()
        if final[a].sync_status != expected_status(platform, scenario)
    }
    assert not wrong
    for account_id, (platform, pid, scenario) in accounts.items():
        row = final[account_id]
        calls = simulator.total_requests(platform, pid)
        assert calls >= 1, (platform, scenario)
        assert row.lease_token is None and row.lease_until is None
        if row.sync_status in ("synced", "partial"):
            assert row.metrics and all(type(v) is int for v in row.metrics.values())
            assert row.error_message is None
            assert row.last_updated_at is not None and row.stale_after is not None
            assert row.stale_after - row.last_updated_at == timedelta(hours=6)
            assert row.next_sync_at is not None and row.next_sync_at < row.stale_after
            assert (row.sync_status == "partial") == bool(row.warnings)
        elif row.sync_status == "requires_reconnect":
            assert row.next_sync_at is None
            assert row.error_message and "reconnect" in row.error_message.lower()
            assert row.metrics == {}
        else:  # failed: the first sync failed, so there is nothing to keep yet
            assert row.metrics == {} and row.last_updated_at is None
            assert row.error_message
            assert row.next_sync_at is not None and row.consecutive_failures == 1
        # error_message never carries a token.
        assert sim_token_free(row.error_message, simulator, platform, pid)


def sim_token_free(message: str | None, simulator: SimulatorClient, platform: str, pid: str) -> bool:
    if not message:
        return True
    state = simulator.account(platform, pid)
    return all(t not in message for t in (state.get("access_token"), state.get("refresh_token")) if t)
