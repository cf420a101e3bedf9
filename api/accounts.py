"""GET /v1/analytics/accounts and an account's history.

Handlers are `async def`s and read through `api.reads` only. A list takes no thread at all: it is
built by PostgreSQL as JSON text (`models/sql/account_page.sql`), read on the async pool and sent
as it comes. A refresh awaits its wait of up to DRAVO_REFRESH_WAIT_SECONDS on the event loop too
(`worker.refresh`), so a storm of refreshes holds no thread that other requests need; per workspace
it is capped in concurrency and in accounts per minute (`api.ratelimit`, 429 past either).
History hands its read to a thread in one piece.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BeforeValidator

from api.dependencies import PrincipalDep, PublicUrlDep, ReadsDep, RefreshDep, get_principal
from api.errors import InvalidParameter, NotFound
from api.params import NO_CONTROL_SCHEMA, PlainText, known_query_only
from api.ratelimit import admit_accounts, refresh_slot
from api.reads import ApiReads
from api.schemas import AccountsPage, HistoryPage, error_responses
from api.state import OnDemandRefresh
from models.cursor import (
    CURSOR_PATTERN,
    HISTORY_CURSOR_PATTERN,
    CursorPosition,
    HistoryPosition,
    InvalidCursor,
    decode_cursor,
    decode_history_cursor,
    encode_history_cursor,
)
from models.queries import MAX_SNAPSHOTS
from models.read_models import MAX_LIMIT, AccountFilter, Platform, Principal
from ops.foundation import platforms as platform_registry

log = structlog.get_logger("dravo.api")

REFRESH_PENDING_WARNING = "Refresh still running; showing cached metrics."
REFRESH_LIMITED_WARNING = "Refresh limit of this workspace reached; showing cached metrics."
REFRESH_BUDGET_WARNING = (
    "Platform budget for refreshes spent (the rest is kept for scheduled syncs); showing cached metrics."
)
PLATFORM_LABELS = platform_registry.labels()
# {platform}: the label, e.g. "TikTok" (worker.outage holds a platform that fails most syncs).
REFRESH_HELD_WARNING = "{platform} is not answering right now; showing cached metrics."

ANSWER_SECONDS = 0.5

router = APIRouter(prefix="/v1/analytics", dependencies=known_query_only(after=get_principal))


async def _page(
    reads: ApiReads, principal: Principal, where: AccountFilter
) -> tuple[bytes | str, str | None]:
    """The page as PostgreSQL builds it (JSON text, `next_cursor` included) and its next cursor,
    on the read pool."""
    page = await reads.accounts_page(principal.workspace_id, where)
    return page.body, page.next_cursor


async def _refreshed(
    reads: ApiReads, refresh: OnDemandRefresh, principal: Principal, where: AccountFilter
) -> tuple[dict[str, Any], str | None]:
    """Refresh the page's accounts, awaited: the wait holds no thread (worker.refresh)."""
    # The wait counts from here: reading and planning are part of DRAVO_REFRESH_WAIT_SECONDS, and
    # the re-read and the answer after it get ANSWER_SECONDS of it (under a storm, many waits end
    # at the same moment and queue for the read pool).
    started = time.monotonic()
    deadline = started + max(refresh.wait_seconds - ANSWER_SECONDS, 0.0)
    workspace_id = principal.workspace_id
    text, next_cursor = await _page(reads, principal, where)
    page = json.loads(text)
    ids = [item["account_id"] for item in page["items"]]
    async with refresh_slot(
        refresh.redis, workspace_id, refresh.concurrent_per_workspace, refresh.wait_seconds
    ):
        plan = await refresh.service.plan(ids)
        admitted = await admit_accounts(
            refresh.redis, workspace_id, plan.candidates, refresh.accounts_per_minute
        )
        result = await refresh.service.run(plan, admitted, deadline)
    limited = set(plan.candidates) - set(admitted)
    if result.finished:  # re-read: finished rows are fresh now, the others are what the cache holds
        page = json.loads((await _page(reads, principal, where))[0])
    for item in page["items"]:
        account_id = item["account_id"]
        if account_id in result.pending:
            item["warnings"].append(REFRESH_PENDING_WARNING)
        elif account_id in limited:
            item["warnings"].append(REFRESH_LIMITED_WARNING)
        elif account_id in result.budget_spent:
            item["warnings"].append(REFRESH_BUDGET_WARNING)
        elif account_id in result.held:
            label = PLATFORM_LABELS.get(item["platform"], item["platform"])
            item["warnings"].append(REFRESH_HELD_WARNING.format(platform=label))
    log.info(
        "api.refresh.answered",
        workspace_id=workspace_id,
        seconds=round(time.monotonic() - started, 3),
        finished=len(result.finished),
        pending=sorted(result.pending),
        limited=len(limited),
        budget_spent=len(result.budget_spent),
        held=len(result.held),
        deferred=len(result.deferred),
    )
    result_page: dict[str, Any] = page
    return result_page, next_cursor


@router.get(
    "/accounts",
    summary="List cached official account/profile metrics for connected social accounts.",
    operation_id="listAccounts",
    response_model=AccountsPage,
    responses=error_responses(401, 422, 429, 503),
)
async def list_accounts(
    request: Request,
    reads: ReadsDep,
    refreshes: RefreshDep,
    public_url: PublicUrlDep,
    principal: PrincipalDep,
    account_id: Annotated[
        PlainText | None,
        Query(
            alias="accountId",
            description="Filter by connected account id.",
            json_schema_extra=NO_CONTROL_SCHEMA,
        ),
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
        body, next_cursor = await _refreshed(reads, refreshes, principal, where)
        return JSONResponse(body, headers=_next_link(request, public_url, next_cursor))
    page, next_cursor = await _page(reads, principal, where)
    return Response(page, media_type="application/json", headers=_next_link(request, public_url, next_cursor))


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


def _history_position(cursor: str | None) -> HistoryPosition | None:
    if cursor is None:
        return None
    try:
        return decode_history_cursor(cursor)
    except InvalidCursor:
        raise InvalidParameter(
            "Invalid value for parameter 'cursor': not a cursor from a previous page.", param="cursor"
        ) from None


def _next_link(request: Request, public_url: str, next_cursor: str | None) -> dict[str, str] | None:
    """`Link: <...>; rel="next"` on DRAVO_PUBLIC_URL, or relative to the request (RFC 8288 section
    3.1): never on the request's Host header, which a client or a proxy may set to anything."""
    if next_cursor is None:
        return None
    url = request.url.include_query_params(cursor=next_cursor)
    return {"Link": f'<{public_url}{url.path}?{url.query}>; rel="next"'}


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
    operation_id="getAccountHistory",
    response_model=HistoryPage,
    responses=error_responses(401, 404, 422, 503),
)
async def account_history(
    request: Request,
    reads: ReadsDep,
    public_url: PublicUrlDep,
    principal: PrincipalDep,
    account_id: Annotated[
        PlainText, Path(description="Connected account id.", json_schema_extra=NO_CONTROL_SCHEMA)
    ],
    since: Annotated[
        IsoDateTime | None, Query(description="Only snapshots captured at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[
        IsoDateTime | None, Query(description="Only snapshots captured at or before this time (ISO 8601).")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            description="`next_cursor` of the previous page: the page after it.",
            # Checked by models.cursor with Python's regex semantics, the document's.
            json_schema_extra={"pattern": HISTORY_CURSOR_PATTERN},
        ),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_SNAPSHOTS,
            description=f"Page size, 1 to {MAX_SNAPSHOTS} (default {MAX_SNAPSHOTS}).",
        ),
    ] = MAX_SNAPSHOTS,
) -> JSONResponse:
    """The account's successful reads in the range, a page at a time.

    `next_cursor` (null on the last page, also sent as a `Link: <...>; rel="next"` header) fetches
    the next page with the same `since`, `until` and `limit`.
    """
    start, end = _utc(since, "since"), _utc(until, "until")
    after = _history_position(cursor)
    page = await reads.history_page(
        principal.workspace_id, account_id, since=start, until=end, after=after, limit=limit
    )
    if page is None:
        raise NotFound("No such account in this workspace.")
    items = [snapshot.to_json() for snapshot in page.items]
    next_cursor = encode_history_cursor(page.next_after) if page.next_after else None
    return JSONResponse(
        {"account_id": account_id, "items": items, "total": len(items), "next_cursor": next_cursor},
        headers=_next_link(request, public_url, next_cursor),
    )
