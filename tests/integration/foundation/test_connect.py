"""Connecting and reconnecting accounts."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import Credentials
from models.admin import AdminError, ConnectRequest, connect_account, create_workspace
from models.base import utcnow
from models.crypto import TokenCipher
from models.tables import Account, AccountSync, MetricSnapshot

CIPHER = TokenCipher([Fernet.generate_key().decode()])


def _request(workspace: str, platform: str, account: str, token: str = "t1", **kw: Any) -> ConnectRequest:
    return ConnectRequest(
        workspace_id=workspace,
        platform=platform,
        platform_account_id=account,
        credentials=Credentials(access_token=token),
        **kw,
    )


def test_new_account_is_pending_and_due(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ws = create_workspace(session, "acme")
        outcome = connect_account(session, CIPHER, _request(ws, "tiktok", "open-1"))
    assert outcome.account_id.startswith("acc_") and not outcome.reconnected
    with session_factory() as session:
        row = session.get_one(AccountSync, outcome.account_id)
        assert row.sync_status == "pending" and row.metrics == {} and row.warnings == []
        assert row.next_sync_at is not None and row.next_sync_at <= utcnow()
        assert session.get_one(Account, outcome.account_id).auth == "default"


def test_reconnect_keeps_metrics_and_history_and_reschedules(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ws = create_workspace(session, "acme")
        account_id = connect_account(session, CIPHER, _request(ws, "linkedin", "2414183")).account_id
    now = utcnow()
    with session_factory.begin() as session:
        row = session.get_one(AccountSync, account_id)
        row.metrics = {"follower_statistics_first_degree_size": 10}
        row.sync_status = "requires_reconnect"
        row.error_message = "LinkedIn access was revoked; reconnect the account."
        row.last_updated_at = now
        row.next_sync_at = None
        session.add(
            MetricSnapshot(account_id=account_id, captured_at=now, sync_status="synced", metrics=row.metrics)
        )

    with session_factory.begin() as session:
        # The numeric id and the URN name the same organization.
        outcome = connect_account(
            session, CIPHER, _request(ws, "linkedin", "urn:li:organization:2414183", "t2")
        )
    assert outcome.account_id == account_id and outcome.reconnected
    with session_factory() as session:
        row = session.get_one(AccountSync, account_id)
        assert row.sync_status == "pending"
        assert row.error_message is None
        assert row.metrics == {"follower_statistics_first_degree_size": 10}
        assert row.next_sync_at is not None
        account = session.get_one(Account, account_id)
        assert account.reconnected_at is not None
        assert account.platform_account_id == "urn:li:organization:2414183"
        assert CIPHER.decrypt(account.credentials).access_token == "t2"
        assert len(session.scalars(select(MetricSnapshot)).all()) == 1


@pytest.mark.parametrize(
    ("platform", "account", "auth", "message"),
    [
        ("myspace", "1", None, "unknown platform"),
        ("linkedin", "acme-corp", None, "urn:li:organization"),
        ("x", "1", "facebook", "instagram only"),
        ("instagram", "1", "tiktok", "Instagram Login"),
        ("x", " ", None, "must not be empty"),
    ],
)
def test_bad_requests(
    session_factory: sessionmaker[Session], platform: str, account: str, auth: str | None, message: str
) -> None:
    with session_factory.begin() as session:
        ws = create_workspace(session, "acme")
    with session_factory.begin() as session, pytest.raises(AdminError, match=message):
        connect_account(
            session,
            CIPHER,
            _request(ws, platform, account, auth=auth) if auth else _request(ws, platform, account),
        )


def test_unknown_workspace(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session, pytest.raises(AdminError, match="unknown workspace"):
        connect_account(session, CIPHER, _request("ws_nope", "x", "1"))


def test_instagram_defaults_to_instagram_login(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ws = create_workspace(session, "acme")
        ig = connect_account(session, CIPHER, _request(ws, "instagram", "1784")).account_id
        fb_login = connect_account(
            session, CIPHER, _request(ws, "instagram", "1785", auth="facebook")
        ).account_id
    with session_factory() as session:
        assert session.get_one(Account, ig).auth == "instagram"
        assert session.get_one(Account, fb_login).auth == "facebook"
