"""Lease semantics on real Postgres: stale writes, racing claims, concurrent dispatchers."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from models import sync_state
from models.tables import Account, AccountSync
from tests.support.accounts import CIPHER, connect

LEASE = timedelta(seconds=30)


def now() -> datetime:
    return datetime.now(UTC)


def add_accounts(sessions: sessionmaker[Session], workspace: str, platform: str, count: int) -> list[str]:
    def pid(i: int) -> str:
        return f"urn:li:organization:{100 + i}" if platform == "linkedin" else f"{platform}-{i}"

    return [connect(sessions, workspace, platform, pid(i), f"token-{i}") for i in range(count)]


def get(sessions: sessionmaker[Session], account_id: str) -> AccountSync:
    with sessions() as session:
        row = session.get(AccountSync, account_id)
        assert row is not None
        return row


def test_a_stale_lease_token_writes_nothing(session_factory: sessionmaker[Session], workspace: str) -> None:
    [account_id] = add_accounts(session_factory, workspace, "x", 1)
    with session_factory.begin() as session:
        [dispatched] = sync_state.claim_due(session, "x", 10, now(), LEASE)
    with session_factory.begin() as session:
        claim = sync_state.claim_for_sync(session, account_id, dispatched.lease_token, now(), LEASE)
    assert claim is not None and claim.lease_token != dispatched.lease_token
    assert CIPHER.decrypt(claim.credentials).access_token == "token-0"

    # A redelivered copy of the message carries the dispatcher's token: it gets nothing.
    with session_factory.begin() as session:
        assert sync_state.claim_for_sync(session, account_id, dispatched.lease_token, now(), LEASE) is None
        stale = sync_state.write_outcome(
            session, account_id, dispatched.lease_token, {"sync_status": "failed"}, snapshot_at=now()
        )
    assert not stale and get(session_factory, account_id).sync_status == "pending"

    with session_factory.begin() as session:
        assert sync_state.write_outcome(
            session,
            account_id,
            claim.lease_token,
            {"sync_status": "synced", "metrics": {"a": 1}},
            snapshot_at=now(),
        )
        # Written once: the same token can't write again.
        assert not sync_state.write_outcome(session, account_id, claim.lease_token, {"sync_status": "failed"})
    row = get(session_factory, account_id)
    assert row.sync_status == "synced" and row.lease_token is None and row.lease_until is None


def test_two_concurrent_claims_have_one_winner(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    [account_id] = add_accounts(session_factory, workspace, "tiktok", 1)
    barrier = threading.Barrier(8)
    winners: list[uuid.UUID] = []

    def claim() -> None:
        barrier.wait()
        with session_factory.begin() as session:
            got = sync_state.claim_for_sync(session, account_id, None, now(), LEASE)
        if got is not None:
            winners.append(got.lease_token)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert get(session_factory, account_id).lease_token == winners[0]


def test_concurrent_dispatchers_claim_disjoint_sets_most_overdue_first(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    ids = add_accounts(session_factory, workspace, "instagram", 40)
    with session_factory.begin() as session:  # ids[i] is i minutes overdue
        for i, account_id in enumerate(ids):
            session.execute(
                update(AccountSync)
                .where(AccountSync.account_id == account_id)
                .values(next_sync_at=now() - timedelta(minutes=i + 1))
            )
    first = session_factory()
    second = session_factory()
    try:
        with first.begin(), second.begin():
            a = sync_state.claim_due(first, "instagram", 15, now(), LEASE)
            b = sync_state.claim_due(second, "instagram", 15, now(), LEASE)  # runs while `first` holds locks
    finally:
        first.close()
        second.close()
    a_ids, b_ids = {c.account_id for c in a}, {c.account_id for c in b}
    assert len(a_ids) == 15 and len(b_ids) == 15 and not a_ids & b_ids
    assert a_ids == set(ids[25:])  # the 15 most overdue
    with session_factory.begin() as session:
        rest = sync_state.claim_due(session, "instagram", 100, now(), LEASE)
        assert {c.account_id for c in rest} == set(ids[:10])
        assert sync_state.claim_due(session, "instagram", 100, now(), LEASE) == []
        assert sync_state.claim_due(session, "x", 100, now(), LEASE) == []  # other platforms apart


def test_an_expired_lease_makes_the_row_due_again(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    [account_id] = add_accounts(session_factory, workspace, "linkedin", 1)
    with session_factory.begin() as session:
        [first] = sync_state.claim_due(session, "linkedin", 10, now(), LEASE)
        assert sync_state.claim_due(session, "linkedin", 10, now() + LEASE / 2, LEASE) == []
        [again] = sync_state.claim_due(session, "linkedin", 10, now() + LEASE + timedelta(seconds=1), LEASE)
    assert again.account_id == account_id and again.lease_token != first.lease_token
    with session_factory.begin() as session:  # the first task wakes up late: no-op
        assert sync_state.claim_for_sync(session, account_id, first.lease_token, now(), LEASE) is None


def test_refresh_claims_respect_min_interval_and_reconnect(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    fresh, waiting = add_accounts(session_factory, workspace, "facebook", 2)
    with session_factory.begin() as session:
        session.execute(
            update(AccountSync).where(AccountSync.account_id == fresh).values(last_attempt_at=now())
        )
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == waiting)
            .values(sync_status="requires_reconnect", next_sync_at=None)
        )
    with session_factory.begin() as session:
        window = timedelta(seconds=60)
        assert sync_state.claim_for_sync(session, fresh, None, now(), LEASE, min_interval=window) is None
        assert sync_state.claim_for_sync(session, waiting, None, now(), LEASE) is None
        assert sync_state.claim_for_sync(session, fresh, None, now(), LEASE) is not None  # inline: forced


def test_rotated_credentials_are_stored_only_under_the_lease(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    [account_id] = add_accounts(session_factory, workspace, "x", 1)
    with session_factory.begin() as session:
        claim = sync_state.claim_for_sync(session, account_id, None, now(), LEASE)
    assert claim is not None
    blob = CIPHER.encrypt(CIPHER.decrypt(claim.credentials).__class__(access_token="rotated"))
    with session_factory.begin() as session:
        assert sync_state.store_credentials(session, account_id, claim.lease_token, blob, None)
        assert not sync_state.store_credentials(session, account_id, uuid.uuid4(), b"other", None)
    with session_factory() as session:
        account = session.get(Account, account_id)
        assert account is not None and CIPHER.decrypt(account.credentials).access_token == "rotated"


def test_a_reconnect_drops_the_lease_of_a_running_sync(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    [account_id] = add_accounts(session_factory, workspace, "tiktok", 1)
    with session_factory.begin() as session:
        claim = sync_state.claim_for_sync(session, account_id, None, now(), LEASE)
    assert claim is not None
    connect(session_factory, workspace, "tiktok", "tiktok-0", "new-token")  # reconnect
    with session_factory.begin() as session:
        assert not sync_state.write_outcome(session, account_id, claim.lease_token, {"sync_status": "failed"})
    assert get(session_factory, account_id).sync_status == "pending"
