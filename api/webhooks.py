"""POST/GET/DELETE /v1/webhooks: a workspace's webhook endpoints, for `manage` API keys.

The target URL is checked (https, public addresses only) before anything is stored; the signing
secret is in the creation reply only. These are the API's only writes besides `last_used_at`,
on the write engine in a thread (DNS resolution blocks too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.dependencies import ManagerDep, StateDep
from api.errors import InvalidParameter, NotFound
from api.schemas import error_responses
from api.state import AppState
from models.crypto import TokenCipher
from models.read_models import Principal, format_time
from models.webhook_admin import (
    EndpointView,
    NewEndpoint,
    create_endpoint,
    delete_endpoint,
    list_endpoints,
    new_secret,
)
from models.webhook_targets import MAX_URL_LENGTH, TargetRefused

router = APIRouter(prefix="/v1/webhooks")

EventType = Literal["account.status_changed", "account.token_expiring", "account.disconnected"]


class WebhookCreate(BaseModel):
    url: str = Field(max_length=MAX_URL_LENGTH, description="https URL of the receiver.")
    events: list[EventType] = Field(default_factory=list, description="Event types; empty: all.")


class Webhook(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    pending: int
    created_at: str


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


def _create(state: AppState, principal: Principal, body: WebhookCreate) -> NewEndpoint:
    settings = state.settings
    with state.write_sessions.begin() as session:
        return create_endpoint(
            session,
            TokenCipher(settings.encryption_keys),
            principal.workspace_id,
            body.url,
            body.events,
            secret=new_secret(),
            allow_loopback_http=settings.webhook_allow_loopback_http,
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses=error_responses(401, 403, 422, 503),
    summary="Create a webhook endpoint (its signing secret is shown once)",
)
async def create_webhook(body: WebhookCreate, principal: ManagerDep, state: StateDep) -> WebhookCreated:
    try:
        created = await state.in_thread(lambda: _create(state, principal, body))
    except TargetRefused as exc:
        raise InvalidParameter(f"Invalid value for parameter 'url': {exc}.", param="url") from None
    return WebhookCreated(**_out(created.endpoint).model_dump(), secret=created.secret)


@router.get(
    "",
    response_model=WebhookList,
    responses=error_responses(401, 403, 503),
    summary="List the workspace's webhook endpoints",
)
async def get_webhooks(principal: ManagerDep, state: StateDep) -> WebhookList:
    def work() -> list[EndpointView]:
        with state.write_sessions() as session:
            return list_endpoints(session, principal.workspace_id)

    return WebhookList(items=[_out(v) for v in await state.in_thread(work)])


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 503),
    summary="Delete a webhook endpoint and its pending deliveries",
)
async def delete_webhook(
    endpoint_id: Annotated[str, Path(max_length=40)], principal: ManagerDep, state: StateDep
) -> Response:
    def work() -> bool:
        with state.write_sessions.begin() as session:
            return delete_endpoint(session, endpoint_id, principal.workspace_id)

    if not await state.in_thread(work):
        raise NotFound("No such webhook endpoint in this workspace.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
