"""disconnect_account on real Postgres: a sync holding the lease writes nothing afterwards."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import Credentials
from models import sync_state
from models.admin import disconnect_account, list_account_ids
from models.listings import list_accounts
from models.queries import account_in_workspace, list_account_rows
from models.read_models import AccountFilter
from models.status import collect_status
from models.tables import Account, AccountSync, MetricSnapshot
from tests.support.accounts import CIPHER, connect, new_workspace

LEASE = timedelta(seconds=60)


def now() -> datetime:
    return datetime.now(UTC)


def _snapshots(sessions: sessionmaker[Session], account_id: str) -> int:
    with sessions() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(MetricSnapshot)
                .where(MetricSnapshot.account_id == account_id)
            )
            or 0
        )


def test_a_sync_in_flight_writes_nothing_after_a_disconnect(session_factory: sessionmaker[Session]) -> None:
    workspace = new_workspace(session_factory)
    account_id = connect(session_factory, workspace, "x", "42", "old-token", refresh_token="old-refresh")
    # A sync that finished earlier left a snapshot; then a new one starts and holds the lease.
    with session_factory.begin() as session:
        first = sync_state.claim_for_sync(session, account_id, None, now(), LEASE)
        assert first is not None
        assert sync_state.write_outcome(
            session,
            account_id,
            first.lease_token,
            {"sync_status": "synced", "metrics": {"a": 1}},
            snapshot_at=now(),
        )
        session.execute(
            update(AccountSync).where(AccountSync.account_id == account_id).values(next_sync_at=now())
        )
    with session_factory.begin() as session:
        [dispatched] = sync_state.claim_due(session, "x", 10, now(), LEASE)
    with session_factory.begin() as session:
        running = sync_state.claim_for_sync(session, account_id, dispatched.lease_token, now(), LEASE)
    assert running is not None

    with session_factory.begin() as session:
        outcome = disconnect_account(session, account_id)
    assert outcome is not None and outcome.sync_in_flight and not outcome.already_disconnected

    # The running sync now rotates tokens and writes its outcome: both find no lease.
    rotated = CIPHER.encrypt(Credentials(access_token="rotated", refresh_token="rotated-refresh"))
    with session_factory.begin() as session:
        assert not sync_state.store_credentials(session, account_id, running.lease_token, rotated, None)
        assert not sync_state.write_outcome(
            session,
            account_id,
            running.lease_token,
            {"sync_status": "synced", "metrics": {"a": 2}},
            snapshot_at=now(),
        )
    with session_factory() as session:
        account = session.get_one(Account, account_id)
        sync = session.get_one(AccountSync, account_id)
        assert account.credentials == b"" and account.token_expires_at is None
        assert account.disconnected_at is not None
        assert sync.metrics == {"a": 1} and sync.lease_token is None and sync.next_sync_at is None
    assert _snapshots(session_factory, account_id) == 1

    # Nothing claims it again: not the dispatcher, not a refresh, not `dravo-sync sync`.
    later = now() + timedelta(days=1)
    with session_factory.begin() as session:
        assert sync_state.claim_due(session, "x", 10, later, LEASE) == []
        assert sync_state.claim_for_sync(session, account_id, None, later, LEASE) is None


def test_disconnect_hides_erases_purges_and_is_idempotent(session_factory: sessionmaker[Session]) -> None:
    workspace = new_workspace(session_factory)
    other = new_workspace(session_factory, "other")
    account_id = connect(
        session_factory, workspace, "tiktok", "7", "tok", expires_at=now() + timedelta(days=3)
    )
    kept = connect(session_factory, workspace, "tiktok", "8", "tok2")
    with session_factory.begin() as session:
        for n in range(3):
            session.add(
                MetricSnapshot(
                    account_id=account_id,
                    captured_at=now() - timedelta(hours=n),
                    sync_status="synced",
                    metrics={},
                )
            )
    # Another workspace can't disconnect it.
    with session_factory.begin() as session:
        assert disconnect_account(session, account_id, workspace_id=other) is None
        assert disconnect_account(session, "acc_unknown") is None
        assert disconnect_account(session, "acc_\x00") is None

    with session_factory.begin() as session:
        first = disconnect_account(session, account_id, workspace_id=workspace)
    assert first is not None and not first.already_disconnected and not first.sync_in_flight
    assert first.snapshots_deleted == 0 and _snapshots(session_factory, account_id) == 3

    with session_factory() as session:
        assert [r.account_id for r in list_account_rows(session, workspace, AccountFilter())] == [kept]
        assert not account_in_workspace(session, workspace, account_id)
        assert list_account_ids(session, workspace_id=workspace) == [kept]
        assert [a.account_id for a in list_accounts(session, workspace_id=workspace)] == [kept]
        [gone] = list_accounts(session, status="disconnected")
        assert gone.account_id == account_id and gone.status == "disconnected"
        # Operators' counts leave it out too; its token expiry is gone with its credentials.
        report = collect_status(session, now())
        assert sum(p.total for p in report.platforms) == 1
        assert [t.account_id for t in report.expiring] == []

    with session_factory.begin() as session:
        again = disconnect_account(session, account_id, purge_history=True)
    assert again is not None and again.already_disconnected and again.snapshots_deleted == 3
    assert again.disconnected_at == first.disconnected_at
    assert _snapshots(session_factory, account_id) == 0


def test_reconnect_after_disconnect(session_factory: sessionmaker[Session]) -> None:
    workspace = new_workspace(session_factory)
    account_id = connect(session_factory, workspace, "x", "42", "old")
    with session_factory.begin() as session:
        disconnect_account(session, account_id)
    assert connect(session_factory, workspace, "x", "42", "new") == account_id
    with session_factory() as session:
        account = session.get_one(Account, account_id)
        sync = session.get_one(AccountSync, account_id)
        assert account.disconnected_at is None and account.reconnected_at is not None
        assert CIPHER.decrypt(account.credentials).access_token == "new"
        assert sync.sync_status == "pending" and sync.next_sync_at is not None
        assert [r.account_id for r in list_account_rows(session, workspace, AccountFilter())] == [account_id]
    with session_factory.begin() as session:
        assert sync_state.claim_for_sync(session, account_id, None, now(), LEASE) is not None


def test_a_write_racing_the_disconnect_is_ordered_by_the_row_lock(
    session_factory: sessionmaker[Session],
) -> None:
    """The disconnect holds the sync row while it commits: an outcome written meanwhile waits for
    it, then finds the lease gone and writes nothing."""
    workspace = new_workspace(session_factory)
    account_id = connect(session_factory, workspace, "x", "43", "tok")
    with session_factory.begin() as session:
        claim = sync_state.claim_for_sync(session, account_id, None, now(), LEASE)
    assert claim is not None
    written: list[bool] = []
    session = session_factory()
    session.begin()
    assert disconnect_account(session, account_id) is not None  # locks taken, not committed yet

    def write() -> None:
        with session_factory.begin() as other:
            written.append(
                sync_state.write_outcome(
                    other, account_id, claim.lease_token, {"sync_status": "synced"}, snapshot_at=now()
                )
            )

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(1.0)
    assert writer.is_alive()  # waiting for the disconnect's row lock
    session.commit()
    session.close()
    writer.join(10)
    assert written == [False]
    assert _snapshots(session_factory, account_id) == 0
