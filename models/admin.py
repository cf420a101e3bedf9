"""Operator writes: workspaces, API keys and connecting accounts (the CLI's verbs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from adapters.base import Credentials
from models import outbox
from models.apikeys import NewApiKey, generate_key
from models.base import utcnow
from models.crypto import CredentialsUnreadable, TokenCipher
from models.ids import new_account_id, new_workspace_id
from models.key_check import rotate_check_value
from models.tables import (
    API_KEY_SCOPES,
    PLATFORM_VALUES,
    Account,
    AccountSync,
    ApiKey,
    MetricSnapshot,
    Workspace,
)
from ops.foundation import platforms

# What a disconnected account keeps of its credentials: nothing (the column is NOT NULL).
ERASED_CREDENTIALS = b""


class AdminError(Exception):
    """An operator request that can't be carried out (unknown workspace, bad platform id...)."""


@dataclass(frozen=True)
class ConnectRequest:
    workspace_id: str
    platform: str
    platform_account_id: str
    credentials: Credentials
    handle: str | None = None
    auth: str | None = None
    # When a reconnect with new credentials syncs the account: None is now (the API defers it when
    # the workspace's refresh window is spent, docs/api.md).
    resync_at: datetime | None = None
    # False (the API's connects): re-posting the credentials already stored keeps the schedule,
    # unless the row waits for a reconnect. True (an operator's CLI): every reconnect re-syncs.
    resync_unchanged: bool = True


@dataclass(frozen=True)
class ConnectOutcome:
    account_id: str
    reconnected: bool
    # A reconnect with new credentials: the row was reset and scheduled (at `resync_at`). False for
    # a new account and for a reconnect with the credentials already stored (the schedule is kept).
    resynced: bool = False


def normalise_platform_account_id(platform: str, raw: str) -> str:
    """One spelling per account (the registry entry's `account_ids.spellings`), so a reconnect
    finds the row it replaces."""
    value = raw.strip()
    if not value:
        raise AdminError("--platform-account-id must not be empty")
    spec = platforms.find(platform)
    if spec is None or spec.account_ids is None:
        return value
    stored = spec.account_ids.stored(value)
    if stored is None:
        raise AdminError(f"a {spec.label} account id {spec.account_ids.rule}")
    return stored


def resolve_auth(platform: str, auth: str | None) -> str:
    """The login an account of `platform` connects with: `auth`, or the registry's default."""
    logins = platforms.logins(platform)
    chosen = auth or logins[0].name
    if chosen in (login.name for login in logins):
        return chosen
    choosers = [spec.name for spec in platforms.PLATFORMS if len(spec.logins) > 1]
    if len(logins) == 1 and choosers:
        raise AdminError(f"--auth applies to {' and '.join(choosers)} only, not to {platform}")
    named = " or ".join(f"'{login.name}' ({login.label})" for login in logins)
    raise AdminError(f"--auth for {platform} is {named}")


def create_workspace(session: Session, name: str) -> str:
    if not name.strip():
        raise AdminError("workspace name must not be empty")
    workspace = Workspace(id=new_workspace_id(), name=name.strip())
    session.add(workspace)
    session.flush()
    return workspace.id


def require_workspace(session: Session, workspace_id: str) -> None:
    if session.get(Workspace, workspace_id) is None:
        raise AdminError(f"unknown workspace {workspace_id!r}")


def create_api_key(session: Session, workspace_id: str, scope: str = "read") -> NewApiKey:
    if scope not in API_KEY_SCOPES:
        raise AdminError(f"unknown scope {scope!r} (one of {', '.join(API_KEY_SCOPES)})")
    require_workspace(session, workspace_id)
    new_key = generate_key()
    session.add(
        ApiKey(workspace_id=workspace_id, prefix=new_key.prefix, key_hash=new_key.key_hash, scope=scope)
    )
    session.flush()
    return new_key


def revoke_api_key(session: Session, prefix: str, at: datetime | None = None) -> None:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at or utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise AdminError(f"no active API key with prefix {prefix!r}")


def connect_account(session: Session, cipher: TokenCipher, request: ConnectRequest) -> ConnectOutcome:
    """Connect a new account, or reconnect an existing one with new credentials.

    A reconnect resets the row to `pending`, schedules it at once (or at `resync_at`) and increments
    the account's credential version (models/sync_state.py); the last good metrics and the history
    stay in the database. Unless `request.resync_unchanged`, a reconnect with the credentials
    already stored changes nothing but the handle (re-posting them through the API is no way to
    sync on demand), except for a row that waits for a reconnect.

    Concurrent connects of one new account make one account: the insert skips on the unique key
    (`ON CONFLICT DO NOTHING`, which waits for a concurrent insert of the same key to commit), and
    the losers continue as reconnects of the row that won.
    """
    if request.platform not in PLATFORM_VALUES:
        raise AdminError(f"unknown platform {request.platform!r} (one of {', '.join(PLATFORM_VALUES)})")
    require_workspace(session, request.workspace_id)
    platform_account_id = normalise_platform_account_id(request.platform, request.platform_account_id)
    auth = resolve_auth(request.platform, request.auth)
    now = utcnow()
    encrypted = cipher.encrypt(request.credentials)

    same_account = select(Account).where(
        Account.workspace_id == request.workspace_id,
        Account.platform == request.platform,
        Account.platform_account_id == platform_account_id,
    )
    existing = session.scalars(same_account.with_for_update()).one_or_none()

    if existing is None:
        inserted = session.scalar(
            insert(Account)
            .values(
                id=new_account_id(),
                workspace_id=request.workspace_id,
                platform=request.platform,
                platform_account_id=platform_account_id,
                handle=request.handle,
                auth=auth,
                credentials=encrypted,
                token_expires_at=request.credentials.expires_at,
                created_at=now,
                connected_at=now,
            )
            .on_conflict_do_nothing(index_elements=["workspace_id", "platform", "platform_account_id"])
            .returning(Account.id)
        )
        if inserted is not None:
            session.execute(
                insert(AccountSync).values(account_id=inserted, platform=request.platform, next_sync_at=now)
            )
            return ConnectOutcome(account_id=inserted, reconnected=False)
        # A concurrent connect of the same account committed first: reconnect its row.
        existing = session.scalars(
            same_account.with_for_update().execution_options(populate_existing=True)
        ).one()

    if (
        not request.resync_unchanged
        and _same_credentials(cipher, existing, request, auth)
        # The same token after a fix on the platform's side (a permission granted): try again.
        and session.scalar(select(AccountSync.sync_status).where(AccountSync.account_id == existing.id))
        != "requires_reconnect"
    ):
        if request.handle:
            existing.handle = request.handle
        return ConnectOutcome(account_id=existing.id, reconnected=True)
    return _reconnect(session, existing, request, encrypted, auth, now)


def _reconnect(
    session: Session, existing: Account, request: ConnectRequest, encrypted: bytes, auth: str, now: datetime
) -> ConnectOutcome:
    """New credentials for an existing account: the row back to pending, scheduled, unleased."""
    existing.credentials = encrypted
    existing.token_expires_at = request.credentials.expires_at
    # A sync that claimed the old version may no longer write credentials or an outcome. The row
    # is locked FOR UPDATE above, so this read-modify-write can't lose a concurrent increment.
    existing.credential_version += 1
    existing.auth = auth
    existing.reconnected_at = now
    existing.disconnected_at = None  # a reconnect after a disconnect brings the account back
    if request.handle:
        existing.handle = request.handle
    # The webhook event first: it locks the row and compares the status it replaces.
    outbox.record_operator_status_change(session, existing.id, "pending")
    # The lease is dropped too: a sync still running with the old credentials must not write.
    session.execute(
        update(AccountSync)
        .where(AccountSync.account_id == existing.id)
        .values(
            sync_status="pending",
            error_message=None,
            warnings=[],
            deferred_note=None,
            consecutive_failures=0,
            next_sync_at=request.resync_at or now,
            lease_token=None,
            lease_until=None,
        )
    )
    return ConnectOutcome(account_id=existing.id, reconnected=True, resynced=True)


def _same_credentials(cipher: TokenCipher, existing: Account, request: ConnectRequest, auth: str) -> bool:
    """The stored credentials are the ones given (and the account is connected, same auth)."""
    if existing.disconnected_at is not None or existing.auth != auth:
        return False
    try:
        stored = cipher.decrypt(existing.credentials)
    except CredentialsUnreadable:
        return False
    given = request.credentials
    return (stored.access_token, stored.refresh_token, stored.expires_at, tuple(stored.scopes)) == (
        given.access_token,
        given.refresh_token,
        given.expires_at,
        tuple(given.scopes),
    )


def rotate_credentials(session: Session, cipher: TokenCipher, batch_size: int = 500) -> int:
    """Re-encrypt every account's credentials, and the key check value, with the first key."""
    rotate_check_value(session, cipher)
    rotated = 0
    last_id = ""
    while True:
        rows = session.scalars(
            select(Account)
            .where(Account.id > last_id)
            .order_by(Account.id)
            .limit(batch_size)
            .with_for_update()
        ).all()
        if not rows:
            return rotated
        for row in rows:
            if row.credentials == ERASED_CREDENTIALS:  # disconnected: nothing to re-encrypt
                continue
            row.credentials = cipher.rotate(row.credentials)
            rotated += 1
        last_id = rows[-1].id
        session.flush()


def revoke_workspace_keys(session: Session, workspace_id: str, at: datetime | None = None) -> int:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.workspace_id == workspace_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at or utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_account_ids(
    session: Session, *, platform: str | None = None, workspace_id: str | None = None
) -> list[str]:
    """Accounts an operator wants to act on in bulk, oldest first."""
    query = (
        select(Account.id).where(Account.disconnected_at.is_(None)).order_by(Account.created_at, Account.id)
    )
    if platform is not None:
        query = query.where(Account.platform == platform)
    if workspace_id is not None:
        query = query.where(Account.workspace_id == workspace_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class DisconnectOutcome:
    """What `disconnect_account` did; a second disconnect reports `already_disconnected`."""

    account_id: str
    workspace_id: str
    platform: str
    disconnected_at: datetime
    already_disconnected: bool
    # A sync held the lease: it was revoked, so that sync's outcome and rotated tokens are dropped.
    sync_in_flight: bool
    snapshots_deleted: int


def disconnect_account(
    session: Session,
    account_id: str,
    *,
    workspace_id: str | None = None,
    purge_history: bool = False,
    at: datetime | None = None,
) -> DisconnectOutcome | None:
    """Stop syncing an account at once, erase its credentials, hide it from the API.

    None when there is no such account (in `workspace_id`, when given). The row is kept, marked
    `disconnected_at`, so its history survives (unless `purge_history`) and a reconnect brings it
    back. Syncing stops because the sync row loses its schedule and its lease: the dispatcher and
    refreshes only claim scheduled rows, and a sync already running writes its outcome (and any
    rotated credentials) only `WHERE lease_token = <its lease>`, which now matches nothing.
    """
    if "\x00" in account_id or (workspace_id is not None and "\x00" in workspace_id):
        return None
    query = select(Account).where(Account.id == account_id)
    if workspace_id is not None:
        query = query.where(Account.workspace_id == workspace_id)
    # Locks the account, then its sync row: the same order as a reconnect.
    account = session.scalars(query.with_for_update()).one_or_none()
    if account is None:
        return None
    already = account.disconnected_at is not None
    in_flight = False
    if not already:
        now = at or utcnow()
        lease = session.execute(
            select(AccountSync.lease_token, AccountSync.lease_until)
            .where(AccountSync.account_id == account.id)
            .with_for_update()
        ).one_or_none()
        in_flight = (
            lease is not None
            and lease.lease_token is not None
            and (lease.lease_until is None or lease.lease_until > now)
        )
        session.execute(
            update(AccountSync)
            .where(AccountSync.account_id == account.id)
            .values(next_sync_at=None, lease_token=None, lease_until=None)
        )
        # The webhook event in the same transaction: committed with the disconnect, or not at all.
        outbox.record_disconnected(session, account.id)
        account.credentials = ERASED_CREDENTIALS
        account.token_expires_at = None
        account.disconnected_at = now
        # Also ends the credential version a running sync claimed: its writes check it too.
        account.credential_version += 1
    deleted = 0
    if purge_history:
        result = session.execute(delete(MetricSnapshot).where(MetricSnapshot.account_id == account.id))
        deleted = int(result.rowcount)  # type: ignore[attr-defined]
    session.flush()
    assert account.disconnected_at is not None
    return DisconnectOutcome(
        account_id=account.id,
        workspace_id=account.workspace_id,
        platform=account.platform,
        disconnected_at=account.disconnected_at,
        already_disconnected=already,
        sync_in_flight=in_flight,
        snapshots_deleted=deleted,
    )


def connect_new_accounts(session: Session, cipher: TokenCipher, requests: list[ConnectRequest]) -> list[str]:
    """Connect accounts that don't exist yet, two statements for all (`account import`'s fast path).

    The rows are those of `connect_account`'s new-account branch. The caller has checked the
    workspaces and that no account exists for these keys; should one appear meanwhile, the unique
    constraint refuses the whole statement (IntegrityError) and nothing is written.
    """
    now = utcnow()
    rows = []
    for request in requests:
        if request.platform not in PLATFORM_VALUES:
            raise AdminError(f"unknown platform {request.platform!r}")
        rows.append(
            {
                "id": new_account_id(),
                "workspace_id": request.workspace_id,
                "platform": request.platform,
                "platform_account_id": normalise_platform_account_id(
                    request.platform, request.platform_account_id
                ),
                "handle": request.handle,
                "auth": resolve_auth(request.platform, request.auth),
                "credentials": cipher.encrypt(request.credentials),
                "token_expires_at": request.credentials.expires_at,
                "created_at": now,
                "connected_at": now,
            }
        )
    if not rows:
        return []
    session.execute(insert(Account), rows)
    session.execute(
        insert(AccountSync),
        [{"account_id": row["id"], "platform": row["platform"], "next_sync_at": now} for row in rows],
    )
    return [str(row["id"]) for row in rows]
