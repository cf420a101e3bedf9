"""`dravo-sync webhook create|list|delete|enable|deliveries`: endpoints receiving signed events."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from models.crypto import TokenCipher
from models.webhook_admin import (
    EndpointView,
    WebhookError,
    check_new_target,
    create_endpoint,
    delete_endpoint,
    enable_endpoint,
    list_attempts,
    list_endpoints,
    new_secret,
)
from models.webhook_targets import TargetRefused
from models.webhooks import EVENT_TYPES
from ops.cli.command import app, fail, settings, transaction
from ops.cli.display import Column, console, fitted_table, plain

webhook_app = typer.Typer(
    help="Webhook endpoints: signed events when an account changes (docs/webhooks.md).", no_args_is_help=True
)
app.add_typer(webhook_app, name="webhook")


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@webhook_app.command("create")
def webhook_create(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace id (ws_...).")],
    url: Annotated[str, typer.Option("--url", help="https URL of the receiver (public addresses only).")],
    events: Annotated[
        str | None,
        typer.Option(
            "--events", help=f"Comma-separated event types (default: all): {', '.join(EVENT_TYPES)}."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, secret, ...} as JSON.")] = False,
) -> None:
    """Create an endpoint; print its id, then its signing secret (shown this once)."""
    config = settings()
    cipher = TokenCipher(config.encryption_keys)
    secret = new_secret()
    try:
        # DNS first, outside the transaction (bounded by a timeout).
        target = check_new_target(url, allow_loopback_http=config.webhook_allow_loopback_http)
    except TargetRefused as exc:
        raise fail(str(exc)) from None
    with transaction() as session:
        try:
            created = create_endpoint(
                session,
                cipher,
                workspace,
                target,
                (events or "").split(","),
                secret=secret,
                allow_loopback_http=config.webhook_allow_loopback_http,
                max_per_workspace=config.webhook_max_endpoints_per_workspace,
            )
        except (WebhookError, TargetRefused) as exc:
            raise fail(str(exc)) from None
    if as_json:
        view = created.endpoint
        typer.echo(
            json.dumps(
                {"id": view.id, "url": view.url, "events": list(view.events), "secret": created.secret}
            )
        )
        return
    typer.echo(created.endpoint.id)
    typer.echo(created.secret)


@webhook_app.command("list")
def webhook_list(
    workspace: Annotated[str | None, typer.Option("--workspace", help="Only this workspace.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Endpoints with their state: enabled, or disabled and why; pending deliveries."""
    with transaction() as session:
        endpoints = list_endpoints(session, workspace)
    if as_json:
        rows: list[dict[str, Any]] = [
            {
                "id": e.id,
                "workspace_id": e.workspace_id,
                "url": e.url,
                "events": list(e.events),
                "enabled": e.enabled,
                "disabled_at": _iso(e.disabled_at),
                "disabled_reason": e.disabled_reason,
                "failed_in_row": e.failed_in_row,
                "last_success_at": _iso(e.last_success_at),
                "pending": e.pending,
                "attempts_failed_in_row": e.attempts_failed_in_row,
                "breaker_open_until": _iso(e.breaker_open_until),
                "created_at": _iso(e.created_at),
            }
            for e in endpoints
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    out = console()
    columns = [
        Column("id"),
        Column("workspace", drop=1),
        Column("url", drop=5),
        Column("events", drop=2),
        # The state is kept whole; its reason (tenant-caused, e.g. a receiver's error) wraps below.
        Column("state", wrap=True),
        Column("pending", drop=4, justify="right"),
        Column("last success", drop=3),
    ]
    cells = [
        (
            plain(e.id),
            plain(e.workspace_id),
            plain(e.url),
            plain(",".join(e.events) or "all"),
            _state(e),
            str(e.pending),
            _iso(e.last_success_at) or "-",
        )
        for e in endpoints
    ]
    out.print(fitted_table(out, "Webhook endpoints", columns, cells))


def _state(e: EndpointView) -> str:
    if not e.enabled:
        return f"disabled {_iso(e.disabled_at)}:\n{plain(e.disabled_reason)}"
    if e.breaker_open_until is not None:
        # Open, or half-open once that time has passed (one probe decides).
        return (
            f"breaker open until {_iso(e.breaker_open_until)}\n"
            f"({e.attempts_failed_in_row} attempts failed in a row)"
        )
    return "enabled"


@webhook_app.command("delete")
def webhook_delete(endpoint_id: Annotated[str, typer.Argument(help="Endpoint id (whe_...).")]) -> None:
    """Delete an endpoint, its pending deliveries and its attempt log."""
    with transaction() as session:
        if not delete_endpoint(session, endpoint_id):
            raise fail(f"unknown webhook endpoint {endpoint_id!r}")


@webhook_app.command("enable")
def webhook_enable(endpoint_id: Annotated[str, typer.Argument(help="Endpoint id (whe_...).")]) -> None:
    """Turn a disabled endpoint back on; events from now on reach it."""
    with transaction() as session:
        if not enable_endpoint(session, endpoint_id):
            raise fail(f"unknown webhook endpoint {endpoint_id!r}")


@webhook_app.command("deliveries")
def webhook_deliveries(
    endpoint: Annotated[str, typer.Option("--endpoint", help="Endpoint id (whe_...).")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Latest attempts to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each attempt, newest first: event, webhook-id, status code, latency, outcome, next try."""
    with transaction() as session:
        try:
            attempts = list_attempts(session, endpoint, limit)
        except WebhookError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "attempted_at": _iso(a.attempted_at),
                        "webhook_id": a.webhook_id,
                        "event_type": a.event_type,
                        "attempt": a.attempt,
                        "outcome": a.outcome,
                        "status_code": a.status_code,
                        "latency_ms": a.latency_ms,
                        "error": a.error,
                        "next_attempt_at": _iso(a.next_attempt_at),
                    }
                    for a in attempts
                ],
                indent=2,
            )
        )
        return
    out = console()
    columns = [
        Column("at", drop=6),
        Column("event", drop=3),
        Column("webhook-id", drop=1),
        Column("try", drop=4, justify="right"),
        Column("status", justify="right"),
        Column("latency", drop=5, justify="right"),
        Column("outcome"),
        Column("next try", drop=2),
        Column("error", drop=7),
    ]
    cells = [
        (
            _iso(a.attempted_at) or "",
            plain(a.event_type),
            plain(a.webhook_id),
            str(a.attempt),
            str(a.status_code) if a.status_code is not None else "-",
            f"{a.latency_ms} ms" if a.latency_ms is not None else "-",
            plain(a.outcome),
            _iso(a.next_attempt_at) or "-",
            plain(a.error),
        )
        for a in attempts
    ]
    out.print(fitted_table(out, f"Delivery attempts of {plain(endpoint)}", columns, cells))
