"""Credentials the configured keys can't read (docs/security.md, "Encryption key mistakes"): a
generic line for the tenant, an error for the operator, no platform call and no backoff for the
account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from adapters.base import Credentials
from models.crypto import TokenCipher
from models.tables import Account, AccountSync
from simulator.client import SimulatorClient
from tests.support.accounts import connect
from worker.composition import WorkerDeps
from worker.outcome import CREDENTIALS_UNREADABLE_MESSAGE
from worker.sync import SyncRunner


def test_unreadable_credentials_fail_the_row_without_backoff(
    deps: WorkerDeps, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    sim = simulator.upsert_account("tiktok", "open-1")
    account_id = connect(session_factory, workspace, "tiktok", "open-1", sim["access_token"])
    foreign = TokenCipher([Fernet.generate_key().decode()]).encrypt(Credentials(access_token="x" * 20))
    with session_factory.begin() as session:
        session.execute(update(Account).where(Account.id == account_id).values(credentials=foreign))
        session.execute(
            update(AccountSync).where(AccountSync.account_id == account_id).values(consecutive_failures=3)
        )

    before = datetime.now(UTC)
    with capture_logs() as logs:
        report = SyncRunner(deps).run(account_id, None, "inline")

    assert report.claimed and report.written and report.calls == 0
    assert simulator.total_requests("tiktok", "open-1") == 0
    with session_factory() as session:
        row = session.get_one(AccountSync, account_id)
    assert row.sync_status == "failed"
    assert row.error_message == CREDENTIALS_UNREADABLE_MESSAGE
    assert "KEY" not in row.error_message
    # No backoff: the failure count is untouched and the retry is one base interval away.
    assert row.consecutive_failures == 3
    base = timedelta(seconds=deps.settings.backoff_base_seconds)
    assert row.next_sync_at is not None
    assert before + base - timedelta(seconds=5) <= row.next_sync_at <= datetime.now(UTC) + base
    [event] = [e for e in logs if e["event"] == "sync.credentials_unreadable"]
    assert event["log_level"] == "error" and event["account_id"] == account_id
