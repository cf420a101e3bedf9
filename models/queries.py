"""The read-only query module: what the API (and `dravo-sync sync`) may ask of the database.

Every function takes a session or connection (the API gives it a read-only one) and returns typed
read models from `models.read_models`, never ORM objects, or, for the API's hot path, the response
body itself. The `async def` ones run their statement on a psycopg async connection the caller
lends (the API's read pool, `api.readpool`); no SQL text leaves this module. The API calls these
through `api.reads` only, and the on-demand refresh (`worker.refresh`) calls its two. The one write the API makes, recording
when an API key was last used, lives in `models.auth.record_key_use` (`api.reads.KeyUseRecorder`).

The row semantics of docs/contract.md §2 (pending rows, integer-only metrics in the published key order,
string-only warnings, the deferred note while stale, times in UTC to the second) are implemented
once, in the statement file `models/sql/account_page.sql`, and stated again in plain Python in
`models.row_rules` (a property test holds the two equal). PostgreSQL renders each page as the
JSON text the API returns, so the API passes the bytes through, and `AccountRow` (for
`dravo-sync sync` and `refresh=true`) is parsed from the same text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, exists, literal, select, text, tuple_
from sqlalchemy.orm import Session

from models.cursor import cursor_sql, encode_cursor
from models.read_models import (
    METRIC_ORDER,
    AccountFilter,
    AccountPageText,
    AccountRow,
    ApiKeyRecord,
    Principal,
    RefreshRowState,
    SnapshotPage,
    SnapshotRow,
)
from models.statements import load_statement, psycopg_text
from models.tables import Account, ApiKey, Workspace

if TYPE_CHECKING:  # models.auth imports this module
    from models.auth import BearerCheck

__all__ = [
    "EMPTY_PAGE",
    "MAX_SNAPSHOTS",
    "AsyncReader",
    "ConnectionLender",
    "account_in_workspace",
    "account_page",
    "account_page_json",
    "account_page_sql",
    "account_page_statement",
    "attempted_since",
    "bearer_principal",
    "find_api_key",
    "get_account_row",
    "history_page",
    "list_account_rows",
    "list_snapshots",
    "next_page_cursor",
    "refresh_states",
    "snapshot_page",
    "workspace_exists",
]

# A history page is bounded so one request can't pull years of rows at once.
MAX_SNAPSHOTS = 1000

Reader = Session | Connection
# A read-only psycopg connection lent by the caller for one read (autocommit: one statement each).
AsyncReader = psycopg.AsyncConnection[Any]

T = TypeVar("T")


class ConnectionLender(Protocol):
    """Lends a pooled connection for one read (`api.readpool.ReadConnections` is one)."""

    async def run(self, read: Callable[[AsyncReader], Awaitable[T]]) -> T: ...


# The SQL below is assembled from constants of this module (column names, METRIC_ORDER); every value
# from a caller is a bound parameter (`:name`), hence the S608 exemptions.


def _storable(value: str) -> bool:
    # Postgres text can't hold NUL: such a value matches nothing, and must not reach the driver.
    return "\x00" not in value


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _metric_order_sql(platform: str) -> str:
    """The published key order of `platform`'s metrics, as a text[] (NULL: no published order)."""
    cases = " ".join(
        f"WHEN {_literal(name)} THEN ARRAY[{', '.join(_literal(key) for key in keys)}]::text[]"
        for name, keys in METRIC_ORDER.items()
        if keys
    )
    return f"(CASE {platform} {cases} END)"


# The statement of the API's hot path, in models/sql/account_page.sql; its row rules are stated in
# Python too (models.row_rules), and a test holds the two equal.
_ACCOUNT_PAGE = load_statement(
    "account_page",
    {"metric_order": _metric_order_sql("a.platform"), "next_cursor": cursor_sql("p.created_at", "p.id")},
)


def account_page_sql(where: AccountFilter, *, in_workspace: bool = True) -> str:
    """The one statement behind `GET /v1/analytics/accounts`: the whole 200 body as text.

    The filters given pick the optional lines of the statement file; each combination is one
    statement text, so psycopg prepares each once per connection."""
    given = {
        "workspace_id": in_workspace,
        "account_id": where.account_id is not None,
        "platform": where.platform is not None,
        "after": where.after is not None,
    }
    return _ACCOUNT_PAGE.text(frozenset(name for name, on in given.items() if on))


def _page_params(workspace_id: str, where: AccountFilter, now: datetime | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "workspace_id": workspace_id,
        "limit": where.limit,
        "fetch": where.limit + 1,
        "now": now or datetime.now(UTC),
    }
    if where.after is not None:
        params["after_created_at"], params["after_id"] = where.after
    if where.account_id is not None:
        params["account_id"] = where.account_id
    if where.platform is not None:
        params["platform"] = where.platform
    return params


EMPTY_PAGE = '{"items":[],"total":0,"next_cursor":null}'


def account_page_statement(
    workspace_id: str, where: AccountFilter, now: datetime | None = None
) -> tuple[str, dict[str, Any]] | None:
    """The statement (`:name` parameters) whose row is (the page as JSON text, its next cursor or
    NULL); None when no row can match, and the page is EMPTY_PAGE."""
    if not _storable(workspace_id) or (where.account_id is not None and not _storable(where.account_id)):
        return None
    if where.after is not None and not _storable(where.after[1]):
        return None
    return account_page_sql(where), _page_params(workspace_id, where, now)


def account_page_json(
    reader: Reader, workspace_id: str, where: AccountFilter, now: datetime | None = None
) -> str:
    """`{"items": [...], "total": N, "next_cursor": ...}` for a workspace, by account creation time
    then id, as JSON text built by PostgreSQL in one statement."""
    statement = account_page_statement(workspace_id, where, now)
    if statement is None:
        return EMPTY_PAGE
    body: str = reader.execute(text(statement[0]), statement[1]).one()[0]
    return body


def list_account_rows(
    reader: Reader, workspace_id: str, where: AccountFilter, now: datetime | None = None
) -> list[AccountRow]:
    """A workspace's rows, by account creation time then id: the page statement's items."""
    page = json.loads(account_page_json(reader, workspace_id, where, now))
    return [AccountRow.from_json(item, workspace_id=workspace_id) for item in page["items"]]


def get_account_row(reader: Reader, account_id: str, now: datetime | None = None) -> AccountRow | None:
    """One account's row regardless of workspace: for operator tools, never for the API."""
    if not _storable(account_id):
        return None
    workspace_id = reader.scalar(select(Account.workspace_id).where(Account.id == account_id))
    if workspace_id is None:
        return None
    where = AccountFilter(account_id=account_id, limit=1)
    params = _page_params(workspace_id, where, now)
    body: str = reader.execute(text(account_page_sql(where, in_workspace=False)), params).one()[0]
    items = json.loads(body)["items"]
    return AccountRow.from_json(items[0], workspace_id=workspace_id) if items else None


def next_page_cursor(
    reader: Reader, workspace_id: str, where: AccountFilter, last_account_id: str
) -> str | None:
    """The cursor after `last_account_id` when a row follows it under `where`, else None (the
    rows were read some other way than `account_page_statement`, e.g. by a refresh)."""
    if not (_storable(workspace_id) and _storable(last_account_id)):
        return None
    position = reader.execute(
        select(Account.created_at).where(Account.id == last_account_id, Account.workspace_id == workspace_id)
    ).scalar_one_or_none()
    if position is None:
        return None
    # The same accounts as the page statement's, after the position (a keyset seek).
    following = select(Account.id).where(
        Account.workspace_id == workspace_id,
        Account.disconnected_at.is_(None),
        tuple_(Account.created_at, Account.id) > tuple_(literal(position), literal(last_account_id)),
    )
    if where.account_id is not None:
        following = following.where(Account.id == where.account_id)
    if where.platform is not None:
        following = following.where(Account.platform == where.platform)
    found = reader.execute(following.limit(1)).first()
    return None if found is None else encode_cursor(position, last_account_id)


def account_in_workspace(reader: Reader, workspace_id: str, account_id: str) -> bool:
    if not (_storable(workspace_id) and _storable(account_id)):
        return False
    query = select(
        exists().where(
            Account.id == account_id, Account.workspace_id == workspace_id, Account.disconnected_at.is_(None)
        )
    )
    return bool(reader.scalar(query))


# The history page, in models/sql/snapshot_page.sql.
_SNAPSHOT_PAGE = load_statement("snapshot_page")


def list_snapshots(
    reader: Reader,
    workspace_id: str,
    account_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = MAX_SNAPSHOTS,
) -> list[SnapshotRow] | None:
    """An account's snapshots with since <= captured_at <= until, oldest first.

    None when the account is unknown or belongs to another workspace (the caller can't tell which).
    Metrics follow the same integer-only rule as rows, keys by code point.
    """
    page = snapshot_page(reader, workspace_id, account_id, since=since, until=until, limit=limit)
    return None if page is None else page.items


def snapshot_page(
    reader: Reader,
    workspace_id: str,
    account_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = MAX_SNAPSHOTS,
) -> SnapshotPage | None:
    """Up to `limit` snapshots as `list_snapshots`, starting after the (captured_at, id) `after`
    (keyset paging on the account's (account_id, captured_at) index: no OFFSET scan)."""
    if not account_in_workspace(reader, workspace_id, account_id):
        return None
    params = _snapshot_params(account_id, since, until, after, limit)
    rows = reader.execute(text(_snapshot_page_sql(since, until, after)), params).all()
    return _snapshot_page_of(rows, limit)


def _snapshot_params(
    account_id: str,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> dict[str, Any]:
    params: dict[str, Any] = {"account_id": account_id, "limit": limit + 1}
    if since is not None:
        params["since"] = since
    if until is not None:
        params["until"] = until
    if after is not None:
        params["after_at"], params["after_id"] = after
    return params


def _snapshot_page_sql(
    since: datetime | None, until: datetime | None, after: tuple[datetime, int] | None
) -> str:
    given = {"since": since is not None, "until": until is not None, "after": after is not None}
    return _SNAPSHOT_PAGE.text(frozenset(name for name, on in given.items() if on))


def _snapshot_page_of(rows: Sequence[Any], limit: int) -> SnapshotPage:
    """The page from the statement's rows (each with `captured_at`, `id`, `item`)."""
    more = len(rows) > limit
    rows = rows[:limit]
    items = [SnapshotRow.from_json(json.loads(row.item)) for row in rows]
    last = rows[-1] if more else None
    return SnapshotPage(items=items, next_after=(last.captured_at, int(last.id)) if last else None)


def find_api_key(reader: Reader, prefix: str) -> ApiKeyRecord | None:
    """The stored key with this visible prefix; the caller compares hashes in constant time."""
    if not _storable(prefix):
        return None
    row = reader.execute(
        select(ApiKey.id, ApiKey.workspace_id, ApiKey.key_hash, ApiKey.revoked_at, ApiKey.last_used_at).where(
            ApiKey.prefix == prefix
        )
    ).one_or_none()
    if row is None:
        return None
    return ApiKeyRecord(
        id=row.id,
        workspace_id=row.workspace_id,
        key_hash=bytes(row.key_hash),
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def workspace_exists(reader: Reader, workspace_id: str) -> bool:
    if not _storable(workspace_id):
        return False
    return bool(reader.scalar(select(exists().where(Workspace.id == workspace_id))))


# The async reads: each runs its statement on the connection the caller lends.


async def _first(conn: AsyncReader, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    cursor = await conn.execute(psycopg_text(sql), params)
    return await cursor.fetchone()


async def bearer_principal(conn: AsyncReader, check: BearerCheck) -> Principal | None:
    """The principal of a bearer token that passed the checks needing no database."""
    lookup = check.lookup()
    row = None if lookup is None else await _first(conn, lookup[0], lookup[1])
    return check.principal(row)


async def account_page(
    conn: AsyncReader, workspace_id: str, where: AccountFilter, now: datetime | None = None
) -> AccountPageText:
    """`GET /v1/analytics/accounts`'s page as PostgreSQL renders it (see account_page_statement)."""
    statement = account_page_statement(workspace_id, where, now)
    if statement is None:
        return AccountPageText(EMPTY_PAGE, None)
    row = await _first(conn, *statement)
    assert row is not None  # an aggregate: always one row
    return AccountPageText(row[0], row[1])


_ACCOUNT_IN_WORKSPACE = (
    "SELECT EXISTS (SELECT 1 FROM accounts WHERE id = :account_id AND workspace_id = :workspace_id"
    " AND disconnected_at IS NULL)"
)


async def history_page(
    conn: AsyncReader,
    workspace_id: str,
    account_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = MAX_SNAPSHOTS,
) -> SnapshotPage | None:
    """`snapshot_page` on a lent async connection: None when the account is unknown or belongs to
    another workspace."""
    if not (_storable(workspace_id) and _storable(account_id)):
        return None
    known = await _first(
        conn, _ACCOUNT_IN_WORKSPACE, {"account_id": account_id, "workspace_id": workspace_id}
    )
    if known is None or not known[0]:
        return None
    params = _snapshot_params(account_id, since, until, after, limit)
    async with conn.cursor(row_factory=namedtuple_row) as cursor:
        await cursor.execute(psycopg_text(_snapshot_page_sql(since, until, after)), params)
        rows = await cursor.fetchall()
    return _snapshot_page_of(rows, limit)


_REFRESH_STATES = (
    "SELECT account_id, platform, last_attempt_at, sync_status, deferred_note, next_sync_at"
    " FROM account_sync WHERE account_id = ANY(:ids)"
)
_ATTEMPTED_SINCE = (
    "SELECT account_id FROM account_sync WHERE account_id = ANY(:ids) AND last_attempt_at >= :started"
)


async def refresh_states(conn: AsyncReader, account_ids: list[str]) -> dict[str, RefreshRowState]:
    """The sync rows an on-demand refresh plans from, by account (unknown accounts are absent)."""
    cursor = await conn.execute(psycopg_text(_REFRESH_STATES), {"ids": account_ids})
    return {row[0]: RefreshRowState(*row[1:]) for row in await cursor.fetchall()}


async def attempted_since(conn: AsyncReader, account_ids: list[str], started: datetime) -> set[str]:
    """Which of the accounts a sync attempted at or after `started`."""
    cursor = await conn.execute(psycopg_text(_ATTEMPTED_SINCE), {"ids": account_ids, "started": started})
    return {row[0] for row in await cursor.fetchall()}
