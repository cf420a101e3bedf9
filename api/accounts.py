"""GET /v1/analytics/accounts and an account's history.

Handlers are `async def`s that hand their blocking work (database reads, the refresh wait of up to
DRAVO_REFRESH_WAIT_SECONDS) to a thread in one piece, so the event loop never blocks and a request
takes one thread hop, not one per dependency. A plain list takes no thread at all: it is built by
PostgreSQL as JSON text (`models.queries.account_page_statement`), read on the async pool
(`api.readpool`) and sent as it comes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BeforeValidator

from api.dependencies import PrincipalDep, StateDep
from api.errors import InvalidParameter, NotFound
from api.ratelimit import check_refresh_rate
from api.readpool import to_psycopg
from api.schemas import AccountsPage, HistoryPage, error_responses
from api.state import AppState
from models.cursor import CURSOR_PATTERN, CursorPosition, InvalidCursor, decode_cursor
from models.queries import (
    EMPTY_PAGE,
    account_page_statement,
    list_account_rows,
    list_snapshots,
    next_page_cursor,
)
from models.read_models import MAX_LIMIT, AccountFilter, AccountRow, Platform, Principal

log = structlog.get_logger("dravo.api")

REFRESH_PENDING_WARNING = "Refresh still running; showing cached metrics."

router = APIRouter(prefix="/v1/analytics")


def _rows(state: AppState, principal: Principal, where: AccountFilter) -> list[AccountRow]:
    return state.read(lambda connection: list_account_rows(connection, principal.workspace_id, where))


def _refreshed(state: AppState, principal: Principal, where: AccountFilter) -> list[AccountRow]:
    settings = state.settings
    check_refresh_rate(state.redis, principal.workspace_id, settings.refresh_requests_per_minute)
    ids = [row.account_id for row in _rows(state, principal, where)]
    result = state.refresh.refresh(ids, settings.refresh_wait_seconds)
    if result.pending:
        log.info(
            "api.refresh.pending",
            workspace_id=principal.workspace_id,
            account_ids=sorted(result.pending),
            finished=len(result.finished),
        )
    # Re-read: finished rows are fresh now, the others are what the cache holds.
    rows = _rows(state, principal, where)
    return [
        row.with_warning(REFRESH_PENDING_WARNING) if row.account_id in result.pending else row for row in rows
    ]


@router.get(
    "/accounts",
    summary="List cached official account/profile metrics for connected social accounts.",
    response_model=AccountsPage,
    responses=error_responses(401, 422, 429, 503),
)
async def list_accounts(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    account_id: Annotated[
        str | None, Query(alias="accountId", description="Filter by connected account id.")
    ] = None,
    platform: Annotated[
        Platform | None,
        Query(description="Filter by platform: instagram, facebook, x, linkedin or tiktok."),
    ] = None,
    refresh: Annotated[
        bool, Query(description="When true, bypass fresh cache and ask the platform again.")
    ] = False,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT} (default {MAX_LIMIT}).")
    ] = MAX_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            description="Opaque: the `next_cursor` of the previous page. Pages stay stable while "
            "accounts are connected.",
            # Checked by models.cursor with Python's regex semantics, the document's.
            json_schema_extra={"pattern": CURSOR_PATTERN},
        ),
    ] = None,
) -> Response:
    """One row per connected account of the caller's workspace, by creation time then id.

    With `refresh=true` the matching accounts are synced now (at most
    DRAVO_REFRESH_WAIT_SECONDS of waiting); rows whose refresh is still running come back as
    cached, with a warning. `next_cursor` (also a `Link: <...>; rel="next"` header) asks for the
    next page; it is null on the last one.
    """
    where = AccountFilter(account_id=account_id, platform=platform, limit=limit, after=_position(cursor))
    if refresh:
        rows = await state.in_thread(lambda: _refreshed(state, principal, where))
        items = [row.to_json() for row in rows]
        last = rows[-1].account_id if len(rows) == where.limit else None
        next_cursor = (
            None
            if last is None
            else await state.read_in_thread(
                lambda connection: next_page_cursor(connection, principal.workspace_id, where, last)
            )
        )
        body = {"items": items, "total": len(items), "next_cursor": next_cursor}
        return JSONResponse(body, headers=_next_link(request, next_cursor))

    statement = account_page_statement(principal.workspace_id, where)
    if statement is None:
        return Response(EMPTY_PAGE, media_type="application/json")
    row = await state.hot.fetch_one(to_psycopg(statement[0]), statement[1])
    assert row is not None  # an aggregate: always one row
    return Response(row[0], media_type="application/json", headers=_next_link(request, row[1]))


def _position(cursor: str | None) -> CursorPosition | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except InvalidCursor:
        raise InvalidParameter(
            "Invalid value for parameter 'cursor': not a cursor of this API; pass the `next_cursor` "
            "of the previous page.",
            param="cursor",
        ) from None


def _next_link(request: Request, next_cursor: str | None) -> dict[str, str] | None:
    if next_cursor is None:
        return None
    return {"Link": f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'}


def _iso_8601_only(value: object) -> object:
    """Pydantic would read "1700000000" as a Unix time; the documented format is ISO 8601 only."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("Input should be an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z") from None
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidParameter(f"Invalid value for parameter '{name}': out of range.", param=name) from None


@router.get(
    "/accounts/{account_id}/history",
    summary="Metric snapshots of one account, oldest first.",
    response_model=HistoryPage,
    responses=error_responses(401, 404, 422, 503),
)
async def account_history(
    state: StateDep,
    principal: PrincipalDep,
    account_id: Annotated[str, Path(description="Connected account id.")],
    since: Annotated[
        IsoDateTime | None, Query(description="Only snapshots captured at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[
        IsoDateTime | None, Query(description="Only snapshots captured at or before this time (ISO 8601).")
    ] = None,
) -> JSONResponse:
    """Every successful read of the account's metrics in the range (at most 1000 snapshots)."""
    start, end = _utc(since, "since"), _utc(until, "until")
    snapshots = await state.read_in_thread(
        lambda connection: list_snapshots(
            connection, principal.workspace_id, account_id, since=start, until=end
        )
    )
    if snapshots is None:
        raise NotFound("No such account in this workspace.")
    items = [snapshot.to_json() for snapshot in snapshots]
    return JSONResponse({"account_id": account_id, "items": items, "total": len(items)})
