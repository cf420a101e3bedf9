"""Webhooks end to end: real worker and beat processes, the simulator, and a receiver over a
socket started by the test. Scenarios move accounts between states; every change arrives signed
(verified with the `standardwebhooks` reference library), once per webhook-id, in order per account."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from models import outbox
from models.admin import create_workspace, disconnect_account
from models.webhook_admin import create_endpoint, list_attempts, new_secret
from ops.testing.processes import wait_until
from ops.testing.receiver import Receiver, running_receiver
from simulator.client import SimulatorClient
from tests.e2e.worker.conftest import attempted, wait_for_rows
from tests.support.accounts import CIPHER, connect
from tests.support.fixtures import Processes

WEBHOOK_SETTINGS = {
    "DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
    "DRAVO_WEBHOOK_SWEEP_INTERVAL_SECONDS": "0.5",
    "DRAVO_WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
    "DRAVO_WEBHOOK_BACKOFF_MAX_SECONDS": "1",
    "DRAVO_WEBHOOK_TIMEOUT_SECONDS": "5",
}


def by_account(payloads: list[dict[str, Any]]) -> dict[str, list[tuple[str, ...]]]:
    """Per account, the events in arrival order (the first arrival of each webhook-id)."""
    seen: set[str] = set()
    found: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for p in payloads:
        if p["_webhook_id"] in seen:
            continue
        seen.add(p["_webhook_id"])
        data = p["data"]
        if p["type"] == "account.status_changed":
            found[data["account_id"]].append((data["from"], data["to"]))
        else:
            found[data["account_id"]].append((p["type"],))
    return dict(found)


def wait_for_events(receiver: Receiver, secret: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    wait_until(
        lambda: len({r.headers["webhook-id"] for r in receiver.accepted()}) >= count, timeout, 0.2, "events"
    )
    return receiver.verify(secret)


def test_scenarios_reach_the_receiver_signed_and_in_order(
    processes: Processes,
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    e2e_env.update(WEBHOOK_SETTINGS)
    secret = new_secret()
    with running_receiver() as receiver:
        with session_factory.begin() as session:
            endpoint_id = create_endpoint(
                session, CIPHER, workspace, receiver.url, (), secret=secret, allow_loopback_http=True
            ).endpoint.id
        tokens: dict[str, str] = {}
        accounts: dict[str, str] = {}
        for name, platform, pid, scenario in [
            ("healthy", "tiktok", "hook-1", "healthy"),
            ("revoked", "x", "hook-2", "revoked_token"),
            ("broken", "tiktok", "hook-3", "malformed"),
        ]:
            sim = simulator.upsert_account(platform, pid, scenario=scenario)
            tokens[name] = sim["access_token"]
            accounts[name] = connect(session_factory, workspace, platform, pid, sim["access_token"])
        sim = simulator.upsert_account("linkedin", "urn:li:organization:7001")
        expires = datetime.now(UTC) + timedelta(days=3)
        accounts["expiring"] = connect(
            session_factory,
            workspace,
            "linkedin",
            "urn:li:organization:7001",
            sim["access_token"],
            expires_at=expires,
        )

        processes.worker(concurrency=8)
        processes.beat()
        wait_for_rows(session_factory, accounts.values(), attempted, timeout=60, what="first syncs")
        first = by_account(wait_for_events(receiver, secret, 5))
        assert first[accounts["healthy"]] == [("pending", "synced")]
        assert first[accounts["revoked"]] == [("pending", "requires_reconnect")]
        assert first[accounts["broken"]] == [("pending", "failed")]
        assert sorted(first[accounts["expiring"]]) == sorted(
            [("pending", "synced"), ("account.token_expiring",)]
        )

        # The healthy account's token gets revoked; the revoked one is fixed and reconnected.
        simulator.set_scenario("tiktok", "hook-1", "revoked_token")
        connect(session_factory, workspace, "tiktok", "hook-1", tokens["healthy"])
        simulator.set_scenario("x", "hook-2", "healthy")
        connect(session_factory, workspace, "x", "hook-2", tokens["revoked"])
        with session_factory.begin() as session:
            disconnect_account(session, accounts["broken"])
        events = by_account(wait_for_events(receiver, secret, 5 + 2 + 2 + 1))

    assert events[accounts["healthy"]] == [
        ("pending", "synced"),
        ("synced", "pending"),
        ("pending", "requires_reconnect"),
    ]
    assert events[accounts["revoked"]] == [
        ("pending", "requires_reconnect"),
        ("requires_reconnect", "pending"),
        ("pending", "synced"),
    ]
    assert events[accounts["broken"]] == [("pending", "failed"), ("account.disconnected",)]
    # Syncs that keep the status (the expiring account is synced again only hours later) add none.
    assert len(events[accounts["expiring"]]) == 2
    ids = [r.headers["webhook-id"] for r in receiver.accepted()]
    assert len(ids) == len(set(ids))  # a healthy receiver got each event once
    with session_factory() as session:
        attempts = list_attempts(session, endpoint_id, 100)
    assert len(attempts) == len(ids) and all(a.status_code == 204 for a in attempts)


def dead_attempts(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.execute(text("SELECT count(*) FROM webhook_attempts")).scalar_one())


def test_dead_receivers_of_one_workspace_do_not_hold_back_another(
    processes: Processes,
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    session_factory: sessionmaker[Session],
    workspace: str,
) -> None:
    """Workspace A: 4 endpoints nobody listens on and 8,000 deliveries waiting for them, older than
    anything else. Workspace B: one healthy endpoint. B's event arrives within seconds of the sync
    that writes it (it waited 3 min 40 s behind such a backlog before fair hand-out)."""
    e2e_env.update(WEBHOOK_SETTINGS, DRAVO_WEBHOOK_CONNECT_TIMEOUT_SECONDS="1")
    with session_factory.begin() as session:
        for n in range(4):
            create_endpoint(
                session, CIPHER, workspace, f"http://127.0.0.1:9/dead-{n}", (), secret=new_secret(),
                allow_loopback_http=True,
            )  # fmt: skip
        session.execute(
            text(
                f"""{outbox.INSERT_EVENT_SQL}
                SELECT {outbox.WEBHOOK_ID_SQL}, CAST(:ws AS text), 'acc_dead_' || g, 'account.status_changed',
                       CAST('{{"type": "account.status_changed", "data": {{}}}}' AS jsonb),
                       now() - interval '1 hour'
                FROM generate_series(1, 2000) AS g"""  # noqa: S608 (constants only)
            ),
            {"ws": workspace},
        )
        other = create_workspace(session, "healthy tenant")
    secret = new_secret()
    with running_receiver() as receiver:
        with session_factory.begin() as session:
            create_endpoint(session, CIPHER, other, receiver.url, (), secret=secret, allow_loopback_http=True)
        processes.worker(concurrency=8)
        processes.beat()
        # A's backlog is fanned out and its endpoints are being tried before B has anything.
        wait_until(lambda: dead_attempts(session_factory) > 0, 60, 0.2, "attempts at the dead endpoints")
        sim = simulator.upsert_account("tiktok", "fair-1")
        account = connect(session_factory, other, "tiktok", "fair-1", sim["access_token"])
        [row] = wait_for_rows(session_factory, [account], attempted, timeout=60, what="B's sync").values()
        assert row.last_attempt_at is not None
        wait_until(lambda: len(receiver.accepted()) >= 1, 30, 0.1, "B's event")
        arrived = datetime.fromtimestamp(receiver.accepted()[0].at, UTC)
        [payload] = receiver.verify(secret)
    assert payload["data"]["account_id"] == account
    waited = (arrived - row.last_attempt_at).total_seconds()
    with session_factory() as session:
        pending_for_a: int = session.execute(
            text(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND account_id LIKE 'acc_dead_%'"
            )
        ).scalar_one()
    print(f"B's event arrived {waited:.1f}s after its sync; {pending_for_a} of A's deliveries still pending")
    assert pending_for_a > 1000  # the backlog was still there
    assert waited < 5
