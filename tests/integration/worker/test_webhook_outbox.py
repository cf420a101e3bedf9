"""The transactional outbox: events are written by the statement that changes the row, and only
then; fan-out, ordering, the per-endpoint cap and pruning against real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import outbox
from models.webhook_admin import create_endpoint, new_secret
from models.webhooks import OutboxEvent, WebhookDelivery
from simulator.client import SimulatorClient
from tests.support.accounts import CIPHER, connect
from worker.composition import WorkerDeps
from worker.sync import SyncRunner


def events(sessions: sessionmaker[Session], account_id: str | None = None) -> list[OutboxEvent]:
    with sessions() as session:
        query = select(OutboxEvent).order_by(OutboxEvent.id)
        if account_id:
            query = query.where(OutboxEvent.account_id == account_id)
        return list(session.scalars(query))


def endpoint(sessions: sessionmaker[Session], workspace: str, events: tuple[str, ...] = ()) -> str:
    with sessions.begin() as session:
        return create_endpoint(
            session,
            CIPHER,
            workspace,
            "http://127.0.0.1:9/hooks",
            events,
            secret=new_secret(),
            allow_loopback_http=True,
        ).endpoint.id


def test_status_changes_write_one_event_each_and_a_kept_status_writes_none(
    deps: WorkerDeps, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    sim = simulator.upsert_account("tiktok", "open-1")
    account_id = connect(session_factory, workspace, "tiktok", "open-1", sim["access_token"])
    runner = SyncRunner(deps)

    runner.run(account_id, None, "inline")  # pending -> synced
    runner.run(account_id, None, "inline")  # synced -> synced: nothing
    simulator.set_scenario("tiktok", "open-1", "revoked_token")
    runner.run(account_id, None, "inline")  # synced -> requires_reconnect

    written = events(session_factory, account_id)
    assert [e.event_type for e in written] == ["account.status_changed"] * 2
    first, second = (e.payload for e in written)
    assert first["type"] == "account.status_changed"
    assert first["data"] == {
        "account_id": account_id,
        "workspace_id": workspace,
        "platform": "tiktok",
        "from": "pending",
        "to": "synced",
        "error_message": None,
        "warnings": [],
    }
    assert second["data"]["from"] == "synced" and second["data"]["to"] == "requires_reconnect"
    assert second["data"]["error_message"]
    assert first["timestamp"].endswith("Z")
    assert len({e.webhook_id for e in written}) == 2 and all(e.webhook_id.startswith("msg_") for e in written)

    # A reconnect moves the row back to pending in its own transaction, with its event.
    connect(session_factory, workspace, "tiktok", "open-1", sim["access_token"])
    last = events(session_factory, account_id)[-1].payload["data"]
    assert (last["from"], last["to"]) == ("requires_reconnect", "pending")


def test_a_sync_that_loses_its_lease_writes_no_event(
    deps: WorkerDeps, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    from models import sync_state

    sim = simulator.upsert_account("tiktok", "open-2")
    account_id = connect(session_factory, workspace, "tiktok", "open-2", sim["access_token"])
    now = datetime.now(UTC)
    with session_factory.begin() as session:
        claim = sync_state.claim_for_sync(session, account_id, None, now, timedelta(seconds=30))
    assert claim is not None
    connect(session_factory, workspace, "tiktok", "open-2", sim["access_token"])  # drops the lease
    with session_factory.begin() as session:
        written = sync_state.write_outcome(
            session, account_id, claim.lease_token, {"sync_status": "failed", "error_message": "x"}
        )
    assert not written
    assert events(session_factory, account_id) == []  # pending -> pending by the reconnect: none either


def test_token_expiring_is_written_once_per_token(
    deps: WorkerDeps, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    sim = simulator.upsert_account("tiktok", "open-3")
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    # No refresh token: it can't be refreshed silently, so the user must act.
    account_id = connect(session_factory, workspace, "tiktok", "open-3", sim["access_token"], expires_at=soon)
    runner = SyncRunner(deps)
    runner.run(account_id, None, "inline")
    runner.run(account_id, None, "inline")
    expiring = [e for e in events(session_factory, account_id) if e.event_type == "account.token_expiring"]
    assert len(expiring) == 1
    assert expiring[0].payload["data"]["expires_at"] == soon.strftime("%Y-%m-%dT%H:%M:%SZ")

    later = soon + timedelta(days=2)  # a new token, also inside the window: a new event
    connect(session_factory, workspace, "tiktok", "open-3", sim["access_token"], expires_at=later)
    runner.run(account_id, None, "inline")
    runner.run(account_id, None, "inline")
    expiring = [e for e in events(session_factory, account_id) if e.event_type == "account.token_expiring"]
    assert [e.payload["data"]["expires_at"] for e in expiring] == [
        soon.strftime("%Y-%m-%dT%H:%M:%SZ"),
        later.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]


def test_fan_out_claim_order_cap_and_prune(
    deps: WorkerDeps, simulator: SimulatorClient, session_factory: sessionmaker[Session], workspace: str
) -> None:
    all_events = endpoint(session_factory, workspace)
    only_expiry = endpoint(session_factory, workspace, ("account.token_expiring",))
    accounts = []
    for n in range(3):
        sim = simulator.upsert_account("tiktok", f"fan-{n}")
        account_id = connect(session_factory, workspace, "tiktok", f"fan-{n}", sim["access_token"])
        accounts.append(account_id)
        for scenario in ("healthy", "flaky", "healthy"):
            simulator.set_scenario(
                "tiktok", f"fan-{n}", scenario, **({"fail_count": 5} if scenario == "flaky" else {})
            )
            SyncRunner(deps).run(account_id, None, "inline")
    assert len(events(session_factory)) == 9  # pending->synced->failed->synced, per account

    now = datetime.now(UTC)
    with session_factory.begin() as session:
        assert outbox.fan_out(session, now, 4) == (4, 4)
    with session_factory.begin() as session:
        assert outbox.fan_out(session, now, 100) == (5, 5)
    with session_factory() as session:
        counts = dict(
            session.execute(
                select(WebhookDelivery.endpoint_id, func.count()).group_by(WebhookDelivery.endpoint_id)
            ).all()
        )
    assert counts == {all_events: 9}
    assert only_expiry not in counts

    lease = timedelta(seconds=60)
    with session_factory.begin() as session:
        first = outbox.claim(session, all_events, now, 2, lease)
    # The oldest of each account only, at most the cap in flight.
    assert len(first) == 2
    assert all(c.payload["data"]["from"] == "pending" for c in first)
    with session_factory.begin() as session:
        assert len(outbox.claim(session, all_events, now, 2, lease)) == 0  # cap reached
        assert len(outbox.claim(session, all_events, now, 3, lease)) == 1  # the third account's head
    with session_factory.begin() as session:
        outbox.record_attempts(
            session,
            all_events,
            [
                outbox.AttemptResult(c.delivery_id, c.attempt, now, "delivered", 204, 3, None, None)
                for c in first
            ],
            disable_after=5,
        )
    with session_factory.begin() as session:
        nxt = outbox.claim(session, all_events, now, 3, lease)
    assert sorted(c.payload["data"]["from"] for c in nxt) == ["synced", "synced"]  # next in order

    with session_factory.begin() as session:
        # Two events are delivered; the rest still wait: only those two go.
        assert outbox.prune(session, now + timedelta(days=1), 100) == 2
    assert len(events(session_factory)) == 7


def test_disconnect_writes_account_disconnected_in_its_transaction(
    session_factory: sessionmaker[Session], workspace: str
) -> None:
    from models.admin import disconnect_account

    account_id = connect(session_factory, workspace, "x", "x-1", "token-x-1")
    with session_factory.begin() as session:
        assert disconnect_account(session, account_id) is not None
    with session_factory.begin() as session:
        disconnect_account(session, account_id)  # already disconnected: no second event
    with session_factory.begin() as session:
        disconnect_account(session, account_id, workspace_id="ws_other")  # not found: none
    [event] = events(session_factory, account_id)
    assert event.event_type == "account.disconnected"
    assert event.payload["data"] == {"account_id": account_id, "workspace_id": workspace, "platform": "x"}

    # Rolled back with the disconnect: no event without the change.
    other = connect(session_factory, workspace, "x", "x-2", "token-x-2")
    session = session_factory()
    disconnect_account(session, other)
    session.rollback()
    session.close()
    assert events(session_factory, other) == []
