"""Platform tokens are unreadable in the database without the key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import Credentials
from models.admin import ConnectRequest, connect_account, create_workspace, rotate_credentials
from models.crypto import CredentialsUnreadable, TokenCipher
from models.tables import Account

ACCESS = "EAAGsecret-access-token-0123456789"
REFRESH = "refresh-secret-9876543210"


def _connect(factory: sessionmaker[Session], cipher: TokenCipher) -> str:
    with factory.begin() as session:
        workspace = create_workspace(session, "acme")
        outcome = connect_account(
            session,
            cipher,
            ConnectRequest(
                workspace_id=workspace,
                platform="x",
                platform_account_id="42",
                credentials=Credentials(
                    access_token=ACCESS,
                    refresh_token=REFRESH,
                    expires_at=datetime(2026, 12, 1, tzinfo=UTC),
                    scopes=("users.read", "offline.access"),
                ),
            ),
        )
    return outcome.account_id


def test_tokens_are_not_in_the_database_in_clear(session_factory: sessionmaker[Session]) -> None:
    cipher = TokenCipher([Fernet.generate_key().decode()])
    _connect(session_factory, cipher)
    with session_factory() as session:
        dump = session.execute(text("SELECT credentials::text, row_to_json(a)::text FROM accounts a")).one()
    for column in dump:
        assert ACCESS not in column and REFRESH not in column
        assert ACCESS.encode().hex() not in column


def test_round_trip_and_wrong_key(session_factory: sessionmaker[Session]) -> None:
    cipher = TokenCipher([Fernet.generate_key().decode()])
    account_id = _connect(session_factory, cipher)
    with session_factory() as session:
        blob = session.get_one(Account, account_id).credentials
    credentials = cipher.decrypt(blob)
    assert credentials.access_token == ACCESS
    assert credentials.refresh_token == REFRESH
    assert credentials.scopes == ("users.read", "offline.access")
    assert ACCESS not in repr(credentials)

    with pytest.raises(CredentialsUnreadable, match="DRAVO_ENCRYPTION_KEY"):
        TokenCipher([Fernet.generate_key().decode()]).decrypt(blob)


def test_key_rotation(session_factory: sessionmaker[Session]) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    account_id = _connect(session_factory, TokenCipher([old_key]))
    both = TokenCipher([new_key, old_key])
    with session_factory.begin() as session:
        assert rotate_credentials(session, both) == 1
    with session_factory() as session:
        blob = session.get_one(Account, account_id).credentials
    assert TokenCipher([new_key]).decrypt(blob).access_token == ACCESS
    with pytest.raises(CredentialsUnreadable):
        TokenCipher([old_key]).decrypt(blob)
