"""`dravo-sync status`: accounts by platform and sync status, staleness, expiring tokens, queues."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime
from typing import Annotated, Any

import redis
import typer
from rich.console import Console
from rich.table import Table

from api.gauges import QUEUES
from models.base import utcnow
from models.status import StatusReport, collect_status
from models.tables import SYNC_STATUS_VALUES
from ops.cli.command import app, settings, transaction
from ops.cli.display import Column, console, fits, fitted_table, plain
from ops.versions import configured_overrides, version_lifetimes


def queue_depths(redis_url: str) -> dict[str, int]:
    """Messages waiting per queue; -1 when Redis can't be asked."""
    names = list(QUEUES)
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return {name: int(client.llen(name)) for name in names}
    except redis.RedisError:
        return dict.fromkeys(names, -1)
    finally:
        client.close()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def report_as_dict(report: StatusReport) -> dict[str, Any]:
    data = asdict(report)
    for platform, source in zip(data["platforms"], report.platforms, strict=True):
        platform["total"] = source.total
    return dict(_jsonable(data))


def _by_platform(report: StatusReport) -> Table:
    """Platforms down, statuses across (nine columns, wider than 80)."""
    table = Table(title="Accounts by platform and sync status")
    table.add_column("platform", no_wrap=True)
    for status in SYNC_STATUS_VALUES:
        table.add_column(status, justify="right", no_wrap=True)
    for column in ("total", "stale", "overdue"):
        table.add_column(column, justify="right", no_wrap=True)
    for platform in report.platforms:
        table.add_row(
            platform.platform,
            *(str(platform.by_status.get(s, 0)) for s in SYNC_STATUS_VALUES),
            str(platform.total),
            str(platform.stale),
            str(platform.overdue),
        )
    return table


def _by_status(report: StatusReport) -> Table:
    """The same figures for a narrow terminal: statuses down, the five platforms across."""
    table = Table(title="Accounts by platform and sync status")
    table.add_column("sync status", no_wrap=True)
    for platform in report.platforms:
        table.add_column(platform.platform, justify="right", no_wrap=True)
    rows: list[tuple[str, list[int]]] = [
        (status, [p.by_status.get(status, 0) for p in report.platforms]) for status in SYNC_STATUS_VALUES
    ]
    rows += [
        ("total", [p.total for p in report.platforms]),
        ("stale", [p.stale for p in report.platforms]),
        ("overdue", [p.overdue for p in report.platforms]),
    ]
    for name, counts in rows:
        table.add_row(name, *(str(count) for count in counts))
    return table


def _render(report: StatusReport) -> None:
    out = console()
    wide = _by_platform(report)
    out.print(wide if fits(out, wide) else _by_status(report))

    expiring = fitted_table(
        out,
        "Soonest token expiries",
        [Column("account"), Column("platform", drop=2), Column("handle", drop=1), Column("expires at")],
        [
            (
                plain(token.account_id),
                plain(token.platform),
                plain(token.handle),
                token.token_expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            )
            for token in report.expiring
        ],
    )
    out.print(expiring)

    queues = Table(title="Queue depths")
    queues.add_column("queue")
    queues.add_column("messages", justify="right")
    for name, depth in report.queue_depths.items():
        queues.add_row(name, "unreachable" if depth < 0 else str(depth))
    out.print(queues)
    if report.oldest_overdue_at:
        out.print(f"Oldest overdue sync was due at {report.oldest_overdue_at.isoformat()}")
    _render_versions(out)


def _render_versions(console: Console) -> None:
    """Pinned API versions and their sunsets; a warning line 60 days before one."""
    versions = Table(title="Pinned API versions")
    for column in ("platform", "version", "sunset", "days left"):
        versions.add_column(column)
    lifetimes = version_lifetimes(utcnow().date(), configured_overrides())
    for lifetime in lifetimes:
        versions.add_row(
            lifetime.platform,
            lifetime.version,
            lifetime.sunset.isoformat() if lifetime.sunset else "not announced",
            "" if lifetime.days_left is None else str(lifetime.days_left),
        )
    console.print(versions)
    for lifetime in lifetimes:
        if lifetime.warning:
            console.print(f"[bold red]warning:[/] {lifetime.warning}")


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON, for scripts.")] = False,
) -> None:
    """Accounts by platform and sync status, stale counts, soonest token expiries, queue depths."""
    with transaction() as session:
        report = collect_status(session, utcnow())
    report = replace(report, queue_depths=queue_depths(settings().redis_url))
    if as_json:
        data = report_as_dict(report)
        data["api_versions"] = [
            {**_jsonable(asdict(v)), "sunset": v.sunset.isoformat() if v.sunset else None}
            for v in version_lifetimes(utcnow().date(), configured_overrides())
        ]
        typer.echo(json.dumps(data, indent=2))
    else:
        _render(report)
