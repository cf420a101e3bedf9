"""A reconnect always wins against a running sync, under READ COMMITTED (docs/security.md, "Races:
a reconnect against a running sync").

Each test interleaves two real connections: the reconnect's transaction is held open after its
writes, the sync's statement is started on another connection and seen waiting for a lock in
pg_stat_activity, then the reconnect commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import Credentials
from models import sync_state
from models.admin import ConnectRequest, connect_account
from models.tables import Account, AccountSync
from tests.support.accounts import CIPHER, connect

LEASE = timedelta(seconds=30)
T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


def waiting_for_lock(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def run_blocked(engine: Engine, work: Callable[[], T]) -> tuple[ThreadPoolExecutor, Future[T]]:
    """Start `work` on another thread and return once its statement waits for a row lock."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(work)
    deadline = time.monotonic() + 10
    while waiting_for_lock(engine) == 0:
        assert not future.done(), f"finished without waiting for the reconnect: {future.result()!r}"
        assert time.monotonic() < deadline, "the sync's statement never waited for the reconnect"
        time.sleep(0.02)
    return pool, future


def reconnect(session: Session, workspace: str, token: str) -> None:
    connect_account(
        session,
        CIPHER,
        ConnectRequest(
            workspace_id=workspace,
            platform="x",
            platform_account_id="42",
            credentials=Credentials(access_token=token),
        ),
    )
    session.flush()  # the writes (and their row locks) happen now; the commit comes later


def stored_token(sessions: sessionmaker[Session], account_id: str) -> str:
    with sessions() as session:
        return CIPHER.decrypt(session.get_one(Account, account_id).credentials).access_token


def test_rotated_credentials_of_a_running_sync_never_overwrite_a_reconnect(
    session_factory: sessionmaker[Session], engine: Engine, workspace: str
) -> None:
    account_id = connect(session_factory, workspace, "x", "42", "old-token")
    with session_factory.begin() as session:
        claim = sync_state.claim_for_sync(session, account_id, None, now(), LEASE)
    assert claim is not None and claim.credential_version == 1
    rotated = CIPHER.encrypt(Credentials(access_token="rotated-old-token"))

    def store_rotated() -> bool:
        with session_factory.begin() as session:
            return sync_state.store_credentials(
                session, account_id, claim.lease_token, rotated, None, credential_version=1
            )

    with session_factory.begin() as other:
        reconnect(other, workspace, "new-token")
        pool, stored = run_blocked(engine, store_rotated)
    # The reconnect has committed; the sync's UPDATE re-checked the version on its row.
    assert stored.result(timeout=10) is False
    pool.shutdown()
    assert stored_token(session_factory, account_id) == "new-token"

    # Nor may its outcome land on the reconnected row.
    with session_factory.begin() as session:
        written = sync_state.write_outcome(
            session,
            account_id,
            claim.lease_token,
            {"sync_status": "synced", "metrics": {"followers_count": 1}},
            snapshot_at=now(),
            credential_version=claim.credential_version,
        )
    assert written is False
    with session_factory() as session:
        row = session.get_one(AccountSync, account_id)
        assert row.sync_status == "pending" and row.metrics == {}
        assert session.get_one(Account, account_id).credential_version == 2


def test_an_outcome_waiting_on_a_reconnect_writes_nothing(
    session_factory: sessionmaker[Session], engine: Engine, workspace: str
) -> None:
    account_id = connect(session_factory, workspace, "x", "42", "old-token")
    with session_factory.begin() as session:
        claim = sync_state.claim_for_sync(session, account_id, None, now(), LEASE)
    assert claim is not None

    def write() -> bool:
        with session_factory.begin() as session:
            return sync_state.write_outcome(
                session,
                account_id,
                claim.lease_token,
                {"sync_status": "synced", "metrics": {"followers_count": 7}},
                snapshot_at=now(),
                credential_version=claim.credential_version,
            )

    with session_factory.begin() as other:
        reconnect(other, workspace, "new-token")
        pool, written = run_blocked(engine, write)
    assert written.result(timeout=10) is False
    pool.shutdown()
    with session_factory() as session:
        assert session.get_one(AccountSync, account_id).sync_status == "pending"
        assert session.scalar(text("SELECT count(*) FROM metric_snapshots")) == 0


def test_a_claim_racing_a_reconnect_reads_the_new_credentials_with_the_new_row(
    session_factory: sessionmaker[Session], engine: Engine, workspace: str
) -> None:
    account_id = connect(session_factory, workspace, "x", "42", "old-token")
    with session_factory.begin() as session:
        first = sync_state.claim_for_sync(session, account_id, None, now(), LEASE)
        assert first is not None
        assert sync_state.write_outcome(
            session, account_id, first.lease_token, {"sync_status": "synced", "metrics": {"a": 1}}
        )

    def claim() -> sync_state.ClaimedAccount | None:
        with session_factory.begin() as session:
            return sync_state.claim_for_sync(session, account_id, None, now(), LEASE)

    with session_factory.begin() as other:
        reconnect(other, workspace, "new-token")
        pool, claimed = run_blocked(engine, claim)
    got = claimed.result(timeout=10)
    pool.shutdown()
    assert got is not None
    assert got.sync_status == "pending"
    assert CIPHER.decrypt(got.credentials).access_token == "new-token"
    assert got.credential_version == 2
