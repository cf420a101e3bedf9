"""Response shapes, for the OpenAPI document and its tests.

Handlers return rows serialised by `models.read_models` (the one serialiser); these models
describe that JSON. Optional fields are required-but-nullable: every row carries every field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.read_models import Platform, SyncStatus

TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
TIME_EXAMPLE = "2026-06-29T09:00:00Z"
# Every time we send: a string of the seed's form, declared `format: date-time` so generated
# clients read it as a date-time (the rows are rendered as JSON text by PostgreSQL, hence `str`).
Timestamp = Annotated[
    str, Field(pattern=TIME_PATTERN, json_schema_extra={"format": "date-time"}, examples=[TIME_EXAMPLE])
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountItem(_Strict):
    account_id: str = Field(description="Connected account id.", examples=["acc_8f2c1d"])
    platform: Platform = Field(description="Social network.")
    handle: str | None = Field(description="Account handle/username.")
    platform_account_id: str | None = Field(description="Native account id on the platform.")
    metrics: dict[str, int] = Field(
        description="Official account metrics (integers only). Keys depend on the platform; "
        "`{}` while the account is pending."
    )
    warnings: list[str] = Field(description="Non-fatal notices raised while syncing.")
    sync_status: SyncStatus = Field(description="synced, partial, pending, failed or requires_reconnect.")
    error_message: str | None = Field(description="Failure detail on sync errors.")
    last_updated_at: Timestamp | None = Field(description="Last refresh time (ISO 8601 UTC).")
    stale_after: Timestamp | None = Field(description="When the cache becomes stale (ISO 8601 UTC).")


class AccountsPage(_Strict):
    items: list[AccountItem] = Field(description="One row per connected account.")
    total: int = Field(ge=0, description="Number of accounts returned.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page. Also in the "
        '`Link: <...>; rel="next"` header.'
    )


class SnapshotItem(_Strict):
    captured_at: Timestamp = Field(description="When these metrics were read (ISO 8601 UTC).")
    sync_status: SyncStatus
    metrics: dict[str, int]


class HistoryPage(_Strict):
    account_id: str
    items: list[SnapshotItem] = Field(description="Snapshots, oldest first.")
    total: int = Field(ge=0, description="Number of snapshots returned.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page.",
    )


class ErrorDetail(_Strict):
    code: str = Field(
        description="Machine-readable: unauthorized, invalid_parameter, not_found, rate_limited, "
        "service_unavailable, ...",
        examples=["unauthorized"],
    )
    message: str = Field(examples=["Missing or invalid API key / JWT."])
    param: str | None = Field(None, description="The offending parameter, for invalid_parameter.")


class ErrorResponse(_Strict):
    error: ErrorDetail


class Health(_Strict):
    status: Literal["ok"]
    checks: dict[str, Literal["ok"]] = Field(default_factory=dict)


ERROR_DESCRIPTIONS = {
    401: "Missing or invalid API key / JWT.",
    403: "The API key lacks the scope this route needs (`manage`); JWTs are read-only.",
    404: "Not found in this workspace.",
    422: "A parameter has an invalid value, or the route does not take it; `error.param` names it.",
    413: "A request body larger than DRAVO_API_MAX_BODY_BYTES (declared or chunked).",
    429: "A per-workspace cap (refreshes, or management writes per minute and at once); see Retry-After.",
    431: "Request headers larger than DRAVO_API_MAX_HEADER_BYTES.",
    500: "A bug: the one error shape, no traceback.",
    503: "Postgres or Redis is unavailable, or a database time limit fired; see Retry-After.",
}
# Any route can answer these: an unknown query parameter (api.params), an oversized body
# (api.guard) or headers (api.limits), a bug. Declaring 422 also keeps FastAPI from adding its
# HTTPValidationError.
EVERY_ROUTE = (413, 422, 431, 500)


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The `responses` of a route: the statuses it can send besides EVERY_ROUTE's, each with the
    body we really send (`api.errors.error_body`)."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
        for status in sorted({*statuses, *EVERY_ROUTE})
    }
