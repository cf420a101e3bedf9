"""POST/GET/DELETE /v1/webhooks: a workspace's webhook endpoints, for `manage` API keys.

The target URL is checked (https, public addresses only) before anything is stored; the signing
secret is in the creation reply only. These are the API's only writes besides the management
API's and `last_used_at`, made through the write interface (`api.writes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.dependencies import ManagerDep, WritesDep, require_manage
from api.errors import NotFound
from api.params import NO_CONTROL_SCHEMA, PlainText, known_query_only
from api.schemas import Timestamp, error_responses
from api.writes import EndpointView
from models.read_models import format_time
from models.webhook_targets import MAX_URL_LENGTH

router = APIRouter(prefix="/v1/webhooks", dependencies=known_query_only(after=require_manage))

EventType = Literal["account.status_changed", "account.token_expiring", "account.disconnected"]


class WebhookCreate(BaseModel):
    url: PlainText = Field(
        max_length=MAX_URL_LENGTH,
        description="https URL of the receiver.",
        json_schema_extra=NO_CONTROL_SCHEMA,
    )
    events: list[EventType] = Field(default_factory=list, description="Event types; empty: all.")


class Webhook(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    pending: int
    created_at: Timestamp


class WebhookCreated(Webhook):
    secret: str = Field(description="The signing secret (whsec_...), shown only in this reply.")


class WebhookList(BaseModel):
    items: list[Webhook]


def _out(view: EndpointView) -> Webhook:
    return Webhook(
        id=view.id,
        url=view.url,
        events=list(view.events),
        enabled=view.enabled,
        disabled_reason=view.disabled_reason,
        pending=view.pending,
        created_at=_time(view.created_at),
    )


def _time(value: datetime) -> str:
    return format_time(value) or ""


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses=error_responses(401, 403, 429, 503),
    summary="Create a webhook endpoint (its signing secret is shown once)",
    operation_id="createWebhook",
)
async def create_webhook(body: WebhookCreate, principal: ManagerDep, writes: WritesDep) -> WebhookCreated:
    created = await writes.create_webhook(principal.workspace_id, body.url, body.events)
    return WebhookCreated(**_out(created.endpoint).model_dump(), secret=created.secret)


@router.get(
    "",
    response_model=WebhookList,
    responses=error_responses(401, 403, 503),
    summary="List the workspace's webhook endpoints",
    operation_id="listWebhooks",
)
async def get_webhooks(principal: ManagerDep, writes: WritesDep) -> WebhookList:
    return WebhookList(items=[_out(v) for v in await writes.webhooks(principal.workspace_id)])


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 429, 503),
    summary="Delete a webhook endpoint and its pending deliveries",
    operation_id="deleteWebhook",
)
async def delete_webhook(
    endpoint_id: Annotated[PlainText, Path(max_length=40, json_schema_extra=NO_CONTROL_SCHEMA)],
    principal: ManagerDep,
    writes: WritesDep,
) -> Response:
    if not await writes.delete_webhook(principal.workspace_id, endpoint_id):
        raise NotFound("No such webhook endpoint in this workspace.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
