"""Connecting accounts for tests, through the same code path as `dravo-sync account connect`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from adapters.base import Credentials
from models.admin import ConnectRequest, connect_account, create_workspace
from models.crypto import TokenCipher
from tests.conftest import TEST_ENCRYPTION_KEY

CIPHER = TokenCipher([TEST_ENCRYPTION_KEY])


def new_workspace(sessions: sessionmaker[Session], name: str = "test") -> str:
    with sessions.begin() as session:
        return create_workspace(session, name)


def connect(
    sessions: sessionmaker[Session],
    workspace_id: str,
    platform: str,
    platform_account_id: str,
    access_token: str,
    *,
    refresh_token: str | None = None,
    expires_at: datetime | None = None,
    scopes: tuple[str, ...] = (),
    handle: str | None = None,
    auth: str | None = None,
) -> str:
    """Connect (or reconnect) an account; returns its acc_... id. It is due at once."""
    credentials = Credentials(
        access_token=access_token, refresh_token=refresh_token, expires_at=expires_at, scopes=scopes
    )
    request = ConnectRequest(
        workspace_id=workspace_id,
        platform=platform,
        platform_account_id=platform_account_id,
        credentials=credentials,
        handle=handle,
        auth=auth,
    )
    with sessions.begin() as session:
        return connect_account(session, CIPHER, request).account_id
