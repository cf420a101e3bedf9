"""Operator read models of `account list` and `apikey list`: never a token, never a key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.admin import require_workspace
from models.tables import Account, AccountSync, ApiKey

ACCOUNT_LIST_STATUSES = ("pending", "synced", "partial", "failed", "requires_reconnect", "disconnected")


@dataclass(frozen=True)
class AccountListing:
    """One account as `account list` shows it: never a token."""

    account_id: str
    workspace_id: str
    platform: str
    platform_account_id: str
    handle: str | None
    status: str
    last_updated_at: datetime | None
    token_expires_at: datetime | None


def list_accounts(
    session: Session,
    *,
    workspace_id: str | None = None,
    platform: str | None = None,
    status: str | None = None,
) -> list[AccountListing]:
    """Accounts oldest first; disconnected ones only when `status` is "disconnected"."""
    status_column = func.coalesce(AccountSync.sync_status, "pending")
    query = (
        select(Account, status_column, AccountSync.last_updated_at)
        .outerjoin(AccountSync, AccountSync.account_id == Account.id)
        .order_by(Account.created_at, Account.id)
    )
    if status == "disconnected":
        query = query.where(Account.disconnected_at.is_not(None))
    else:
        query = query.where(Account.disconnected_at.is_(None))
        if status is not None:
            query = query.where(status_column == status)
    if workspace_id is not None:
        query = query.where(Account.workspace_id == workspace_id)
    if platform is not None:
        query = query.where(Account.platform == platform)
    return [
        AccountListing(
            account_id=account.id,
            workspace_id=account.workspace_id,
            platform=account.platform,
            platform_account_id=account.platform_account_id,
            handle=account.handle,
            status="disconnected" if account.disconnected_at is not None else str(sync_status),
            last_updated_at=None if account.disconnected_at is not None else last_updated_at,
            token_expires_at=account.token_expires_at,
        )
        for account, sync_status, last_updated_at in session.execute(query)
    ]


@dataclass(frozen=True)
class ApiKeyListing:
    """One key as `apikey list` shows it: its visible prefix only, never the key or its hash."""

    prefix: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_api_keys(session: Session, workspace_id: str) -> list[ApiKeyListing]:
    require_workspace(session, workspace_id)
    rows = session.execute(
        select(ApiKey.prefix, ApiKey.scope, ApiKey.created_at, ApiKey.last_used_at, ApiKey.revoked_at)
        .where(ApiKey.workspace_id == workspace_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return [ApiKeyListing(*row) for row in rows]
