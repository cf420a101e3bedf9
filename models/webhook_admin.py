"""Webhook endpoints as operators and the management API see them: create, list, delete, and
the attempts of one endpoint (`dravo-sync webhook deliveries`).

Creating one is two steps: `check_new_target` resolves and judges the URL (DNS, bounded by a
timeout) before any transaction, then `create_endpoint` stores it, under the workspace's cap."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.crypto import TokenCipher
from models.tables import Workspace
from models.webhook_targets import (
    RESOLVE_TIMEOUT_SECONDS,
    Resolver,
    check_target,
    system_resolver,
)
from models.webhooks import EVENT_TYPES, OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookError(Exception):
    """A request about endpoints that can't be carried out (unknown workspace, bad event...)."""


class EndpointLimitReached(WebhookError):
    """The workspace has as many endpoints as DRAVO_WEBHOOK_MAX_ENDPOINTS_PER_WORKSPACE allows."""


@dataclass(frozen=True)
class CheckedTarget:
    """A URL the target policy accepted (resolved outside any transaction)."""

    url: str


@dataclass(frozen=True)
class EndpointView:
    id: str
    workspace_id: str
    url: str
    events: tuple[str, ...]
    created_at: datetime
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failed_in_row: int
    last_success_at: datetime | None
    pending: int
    attempts_failed_in_row: int = 0
    breaker_open_until: datetime | None = None


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: EndpointView
    secret: str = field(repr=False)  # shown once; only its encryption is stored; never in a repr


@dataclass(frozen=True)
class AttemptView:
    attempted_at: datetime
    webhook_id: str
    event_type: str
    attempt: int
    outcome: str
    status_code: int | None
    latency_ms: int | None
    error: str | None
    next_attempt_at: datetime | None


SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
# Standard Webhooks asks for 24 to 64 random bytes.
SECRET_BYTES = 32


def new_secret() -> str:
    """A signing secret as Standard Webhooks libraries read it: whsec_ + base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_endpoint_id() -> str:
    return "whe_" + secrets.token_hex(8)


def parse_events(events: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(e.strip() for e in events if e.strip()))
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise WebhookError(f"unknown event type {unknown[0]!r} (one of {', '.join(EVENT_TYPES)})")
    return chosen


def _view(endpoint: WebhookEndpoint, pending: int) -> EndpointView:
    return EndpointView(
        id=endpoint.id,
        workspace_id=endpoint.workspace_id,
        url=endpoint.url,
        events=tuple(endpoint.events or ()),
        created_at=endpoint.created_at,
        enabled=endpoint.disabled_at is None,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        failed_in_row=endpoint.failed_in_row,
        last_success_at=endpoint.last_success_at,
        pending=pending,
        attempts_failed_in_row=endpoint.attempts_failed_in_row or 0,
        breaker_open_until=endpoint.breaker_open_until,
    )


def check_new_target(
    url: str,
    *,
    allow_loopback_http: bool,
    resolve: Resolver = system_resolver,
    timeout: float = RESOLVE_TIMEOUT_SECONDS,
) -> CheckedTarget:
    """Judge the URL (https, public addresses only: TargetRefused). It waits on DNS (at most
    `timeout`), so it runs before the transaction that stores the endpoint, never inside it."""
    check_target(url, allow_loopback_http=allow_loopback_http, resolve=resolve, timeout=timeout)
    return CheckedTarget(url.strip())


def create_endpoint(
    session: Session,
    cipher: TokenCipher,
    workspace_id: str,
    url: str | CheckedTarget,
    events: Sequence[str] = (),
    *,
    secret: str,
    allow_loopback_http: bool,
    resolve: Resolver = system_resolver,
    max_per_workspace: int | None = None,
) -> NewEndpoint:
    """Store the endpoint. A plain URL is checked first (TargetRefused), before the first
    statement of the session; callers inside a transaction pass `check_new_target`'s result.
    EndpointLimitReached when the workspace already has `max_per_workspace` endpoints."""
    chosen = parse_events(events)
    if isinstance(url, str):
        url = check_new_target(url, allow_loopback_http=allow_loopback_http, resolve=resolve)
    # A transaction-scoped advisory lock per workspace serialises creations, so two at once can't
    # both pass the cap; unlike a row lock it needs no UPDATE privilege on `workspaces`, which the
    # management API's role does not have (models/roles.py).
    session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended("webhook_endpoints:" + workspace_id, 0)))
    )
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise WebhookError(f"unknown workspace {workspace_id!r}")
    if max_per_workspace is not None:
        count = session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.workspace_id == workspace_id)
        )
        if (count or 0) >= max_per_workspace:
            raise EndpointLimitReached(
                f"workspace {workspace_id!r} already has {count} webhook endpoints, the most allowed "
                f"(DRAVO_WEBHOOK_MAX_ENDPOINTS_PER_WORKSPACE={max_per_workspace}); delete one first"
            )
    endpoint = WebhookEndpoint(
        id=new_endpoint_id(),
        workspace_id=workspace_id,
        url=url.url,
        events=list(chosen),
        secret=cipher.encrypt_secret(secret),
        created_at=utcnow(),
        failed_in_row=0,
        attempts_failed_in_row=0,
    )
    session.add(endpoint)
    session.flush()
    return NewEndpoint(_view(endpoint, 0), secret)


def list_endpoints(session: Session, workspace_id: str | None = None) -> list[EndpointView]:
    pending = (
        select(WebhookDelivery.endpoint_id, func.count().label("n"))
        .where(WebhookDelivery.status == "pending")
        .group_by(WebhookDelivery.endpoint_id)
        .subquery()
    )
    query = (
        select(WebhookEndpoint, func.coalesce(pending.c.n, 0).label("pending"))
        .outerjoin(pending, pending.c.endpoint_id == WebhookEndpoint.id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    if workspace_id is not None:
        query = query.where(WebhookEndpoint.workspace_id == workspace_id)
    rows: list[Any] = list(session.execute(query).all())
    return [_view(endpoint, int(pending_count or 0)) for endpoint, pending_count in rows]


def delete_endpoint(session: Session, endpoint_id: str, workspace_id: str | None = None) -> bool:
    """Delete an endpoint with its deliveries and attempts; False if there is none (in that workspace)."""
    statement = delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if workspace_id is not None:
        statement = statement.where(WebhookEndpoint.workspace_id == workspace_id)
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def list_attempts(session: Session, endpoint_id: str, limit: int = 50) -> list[AttemptView]:
    """The endpoint's latest attempts, newest first."""
    if session.get(WebhookEndpoint, endpoint_id) is None:
        raise WebhookError(f"unknown webhook endpoint {endpoint_id!r}")
    query = (
        select(WebhookAttempt, OutboxEvent.webhook_id, OutboxEvent.event_type)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookAttempt.endpoint_id == endpoint_id)
        .order_by(WebhookAttempt.attempted_at.desc(), WebhookAttempt.id.desc())
        .limit(limit)
    )
    return [
        AttemptView(
            attempted_at=a.attempted_at,
            webhook_id=webhook_id,
            event_type=event_type,
            attempt=a.attempt,
            outcome=a.outcome,
            status_code=a.status_code,
            latency_ms=a.latency_ms,
            error=a.error,
            next_attempt_at=a.next_attempt_at,
        )
        for a, webhook_id, event_type in session.execute(query).all()
    ]


def rotate_secrets(session: Session, cipher: TokenCipher) -> int:
    """Re-encrypt every signing secret with the first configured key (`keys rotate`)."""
    rotated = 0
    for endpoint in session.scalars(select(WebhookEndpoint).with_for_update()):
        endpoint.secret = cipher.rotate(endpoint.secret)
        rotated += 1
    session.flush()
    return rotated


def enable_endpoint(session: Session, endpoint_id: str) -> bool:
    """Turn a disabled endpoint back on (after its receiver is fixed); new events reach it again."""
    endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if endpoint is None:
        return False
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    endpoint.failed_in_row = 0
    endpoint.attempts_failed_in_row = 0
    endpoint.breaker_open_until = None
    session.flush()
    return True
