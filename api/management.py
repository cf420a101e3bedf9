"""The management API: the application backend that runs the OAuth flow hands us its accounts.

    POST   /v1/accounts                 connect or reconnect (201 new, 200 reconnected)
    GET    /v1/accounts/{id}            the connection record
    DELETE /v1/accounts/{id}            disconnect (`?purge_history=true` also deletes snapshots)

Only `manage` API keys, within their own workspace (`require_manage`: a `read` key or a JWT gets
403); another workspace's account is 404, as an unknown one. These are the only routes that write
accounts, each in one transaction (a bad body is refused before it starts: nothing is
half-written), through the API's write interface (`api.writes`), which runs the same model
functions as the CLI. Tokens go in, never out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.dependencies import ManagerDep, ReadsDep, WritesDep, require_manage
from api.errors import InvalidParameter, NotFound, error_response
from api.params import NO_CONTROL_SCHEMA, PlainText, known_query_only
from api.schemas import Timestamp, error_responses
from api.writes import DisconnectOutcome
from models.connect_input import ConnectFields, first_error
from models.read_models import Platform, SyncStatus, format_time

router = APIRouter(prefix="/v1/accounts", dependencies=known_query_only(after=require_manage))

NOT_FOUND_MESSAGE = "No such account in this workspace."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Connection(_Strict):
    """An account's connection record (no tokens)."""

    account_id: str = Field(examples=["acc_8f2c1d"])
    platform: Platform
    platform_account_id: str
    handle: str | None
    auth: str = Field(description="instagram or facebook (Instagram accounts), default otherwise.")
    scopes: list[str] | None = Field(description="Granted scopes; null if the credentials can't be read.")
    token_expires_at: Timestamp | None
    connected_at: Timestamp
    reconnected_at: Timestamp | None
    sync_status: SyncStatus
    last_updated_at: Timestamp | None = Field(description="When metrics were last read.")
    next_sync_at: Timestamp | None = Field(description="When the next sync is due.")


class Disconnection(_Strict):
    """What a disconnect did. Disconnecting again is not an error: `already_disconnected`."""

    account_id: str
    disconnected_at: Timestamp
    already_disconnected: bool
    sync_stopped: bool = Field(description="A sync was running: its outcome will not be written.")
    credentials_erased: bool
    snapshots_deleted: int = Field(ge=0, description="With purge_history=true: snapshots deleted.")


def _body_schema() -> dict[str, Any]:
    schema = ConnectFields.model_json_schema()
    assert "$defs" not in schema  # flat: it can be inlined into the operation
    return schema


async def _connect_fields(request: Request) -> ConnectFields:
    """The body, read here rather than by FastAPI: bytes that are not JSON (or not UTF-8) are a
    422 naming `body` like every other bad body, not FastAPI's undocumented 400."""
    raw = await request.body()
    try:
        return ConnectFields.model_validate_json(raw)
    except ValidationError as exc:
        field, reason = first_error(exc)
        if field in ("", "line") or exc.errors()[0]["type"] in ("json_invalid", "model_type"):
            field, reason = "body", "a JSON object with the documented fields is required"
        raise InvalidParameter(f"Invalid value for parameter '{field}': {reason}.", param=field) from None


@router.post(
    "",
    summary="Connect an account, or reconnect it with new credentials.",
    operation_id="connectAccount",
    status_code=201,
    response_model=Connection,
    responses={
        200: {"model": Connection, "description": "Reconnected."},
        **error_responses(401, 403, 422, 429, 503),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _body_schema()}}}
    },
)
async def connect(request: Request, writes: WritesDep, principal: ManagerDep) -> JSONResponse:
    """Connect (201) or reconnect (200: new credentials, the row back to pending and synced at
    once). The answer is the connection record; tokens are never echoed."""
    body = await _connect_fields(request)
    record, reconnected = await writes.connect(principal.workspace_id, body)
    return JSONResponse(
        record.to_json(),
        status_code=200 if reconnected else 201,
        headers={"Location": f"/v1/accounts/{record.account_id}"},
    )


@router.get(
    "/{account_id}",
    summary="The connection record of one account.",
    operation_id="getAccount",
    response_model=Connection,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_account(
    reads: ReadsDep,
    principal: ManagerDep,
    account_id: Annotated[
        PlainText, Path(description="Connected account id.", json_schema_extra=NO_CONTROL_SCHEMA)
    ],
) -> JSONResponse:
    """Platform, handle, scopes, token expiry, connected and reconnected times, sync status."""
    record = await reads.account_record(principal.workspace_id, account_id)
    if record is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return JSONResponse(record.to_json())


@router.delete(
    "/{account_id}",
    summary="Disconnect an account: syncing stops at once and its credentials are erased.",
    operation_id="disconnectAccount",
    response_model=Disconnection,
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
async def delete_account(
    writes: WritesDep,
    principal: ManagerDep,
    account_id: Annotated[
        PlainText, Path(description="Connected account id.", json_schema_extra=NO_CONTROL_SCHEMA)
    ],
    purge_history: Annotated[bool, Query(description="Also delete the account's metric snapshots.")] = False,
) -> JSONResponse:
    """As `dravo-sync account disconnect`: a sync in flight writes nothing afterwards, the account
    disappears from every other route, and a second DELETE answers `already_disconnected`."""
    outcome = await writes.disconnect(principal.workspace_id, account_id, purge_history=purge_history)
    if outcome is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return JSONResponse(_disconnection(outcome))


def _disconnection(outcome: DisconnectOutcome) -> dict[str, object]:
    disconnected_at: datetime = outcome.disconnected_at
    return {
        "account_id": outcome.account_id,
        "disconnected_at": format_time(disconnected_at),
        "already_disconnected": outcome.already_disconnected,
        "sync_stopped": outcome.sync_in_flight,
        "credentials_erased": True,
        "snapshots_deleted": outcome.snapshots_deleted,
    }


@router.api_route(
    "/{account_id}", methods=["POST", "PUT", "PATCH", "HEAD", "OPTIONS"], include_in_schema=False
)
async def other_methods() -> JSONResponse:
    # Starlette answers a wrong method with the Allow of the first route on the path only (GET).
    return error_response(405, "method_not_allowed", "Method Not Allowed", headers={"Allow": "GET, DELETE"})
