"""`dravo-sync capacity`: what a number of accounts needs, from the capacity model (docs/capacity.md)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ops.capacity.model import Capacity, Measured, capacity
from ops.capacity.scenario import DEFAULT_LATENCY, PlatformLoad, Scenario, setting_default
from ops.cli.command import app, fail
from ops.foundation import platforms as platform_registry
from ops.foundation.settings import ConfigurationError
from worker.budget import PlatformBudget, Rate

# Where `python -m bench throughput` keeps its measurement, in a source checkout.
THROUGHPUT_RESULT = Path(__file__).resolve().parents[2] / "bench" / "results" / "throughput.json"
# The measurement shipped with this release (bench/results/throughput.json, docs/capacity.md),
# used where the results are not at hand: the image carries no bench/ directory.
SHIPPED_CPU_MS_PER_SYNC = 5.84


def _pairs(values: list[str], option: str) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, given = value.partition("=")
        if not sep or name not in platform_registry.PLATFORM_NAMES:
            names = ", ".join(platform_registry.PLATFORM_NAMES)
            raise fail(f"{option}: expected PLATFORM=VALUE with PLATFORM one of {names}, got {value!r}")
        found[name] = given
    return found


def _measured_cpu(given: float | None) -> float:
    if given is not None:
        return given
    if not THROUGHPUT_RESULT.exists():
        typer.echo(
            f"note: no benchmark results here; using the shipped {SHIPPED_CPU_MS_PER_SYNC} ms CPU per sync "
            "(pass --cpu-ms-per-sync with your own: python -m bench throughput measures it)",
            err=True,
        )
        return SHIPPED_CPU_MS_PER_SYNC
    record = json.loads(THROUGHPUT_RESULT.read_text())
    return float(record["data"]["celery"]["cpu_ms_per_sync"])


def build_scenario(accounts: dict[str, str], freshness: dict[str, str], quotas: dict[str, str]) -> Scenario:
    loads = {}
    for name, count in accounts.items():
        try:
            n = int(count)
            fresh = timedelta(seconds=int(freshness[name])) if name in freshness else None
        except ValueError:
            raise fail(f"{name}: account counts and freshness are whole numbers (seconds)") from None
        load = PlatformLoad.shipped(name, n, fresh)
        if name in quotas:
            try:
                app_rate = Rate.parse(quotas[name], f"--quota {name}")
            except ConfigurationError as exc:
                raise fail(str(exc)) from None
            load = PlatformLoad(
                load.accounts, load.freshness, PlatformBudget(app_rate, load.budget.user), load.calls_per_sync
            )
        loads[name] = load
    return Scenario(platforms=loads, duration=timedelta(days=1), latency=DEFAULT_LATENCY)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def first_limit(result: Capacity) -> str:
    worst = max(result.platforms, key=lambda r: r.shortest_freshness_seconds / r.freshness_seconds)
    share = worst.shortest_freshness_seconds / worst.freshness_seconds
    state = "exceeded" if share > 1 else "reached"
    return f"{worst.platform} {worst.binding} ({100 * share:.0f} % of it at this freshness: {state} first)"


def as_dict(result: Capacity) -> dict[str, object]:
    data = asdict(result)
    data["binds_first"] = first_limit(result)
    return data


def _render(result: Capacity, measured: Measured) -> None:
    console = Console()
    table = Table(title="Capacity at the requested freshness")
    for column in (
        "platform",
        "accounts",
        "freshness",
        "calls/day needed",
        "app quota/day",
        "of quota",
        "token budget used",
        "shortest freshness",
        "binds first",
        "stale share",
    ):
        table.add_column(column, justify="left" if column in ("platform", "binds first") else "right")
    for r in result.platforms:
        table.add_row(
            r.platform,
            f"{r.accounts:,}",
            _duration(r.freshness_seconds),
            f"{r.calls_per_day:,.0f}",
            f"{r.app_quota_per_day:,.0f}",
            f"{100 * r.app_share:.0f} %",
            f"{100 * r.user_share:.0f} %",
            _duration(r.shortest_freshness_seconds),
            r.binding,
            f"{100 * r.stale_share:.0f} %",
        )
    console.print(table)
    console.print(
        f"Syncs: {result.syncs_per_second:.1f}/s. Workers at {measured.cpu_ms_per_sync:.2f} ms CPU per sync: "
        f"{result.worker_cores:.2f} cores, {result.worker_slots:.1f} slots busy, "
        f"{result.worker_processes} worker processes ({measured.concurrency} threads each), "
        f"{result.hosts} host(s) of {measured.cores_per_host} cores.\n"
        f"Postgres: {result.postgres_statements_per_second:.0f} statements/s. "
        f"Redis: {result.redis_commands_per_second:.0f} commands/s from our code (the broker's own come on top).\n"
        f"Binds first: {first_limit(result)}."
    )


@app.command("capacity")
def capacity_command(
    accounts: Annotated[
        list[str], typer.Option("--accounts", help="PLATFORM=COUNT, once per platform (instagram=100000)")
    ],
    freshness: Annotated[
        list[str] | None,
        typer.Option("--freshness", help="PLATFORM=SECONDS (default: DRAVO_FRESHNESS_SECONDS' default)"),
    ] = None,
    quota: Annotated[
        list[str] | None,
        typer.Option(
            "--quota", help="PLATFORM=CALLS/SECONDS: the app quota you really have (default: shipped)"
        ),
    ] = None,
    cpu_ms_per_sync: Annotated[
        float | None, typer.Option(help="worker CPU per sync (default: bench/results/throughput.json)")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="threads per worker process")] = int(
        setting_default("worker_concurrency")
    ),
    cores_per_host: Annotated[
        int | None, typer.Option(help="cores per worker host (default: this machine's)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Calls per day against the quotas, the shortest freshness they allow, workers, Postgres and Redis load."""
    scenario = build_scenario(
        _pairs(accounts, "--accounts"), _pairs(freshness or [], "--freshness"), _pairs(quota or [], "--quota")
    )
    measured = Measured(_measured_cpu(cpu_ms_per_sync), concurrency, cores_per_host or os.cpu_count() or 1)
    result = capacity(scenario, measured)
    if as_json:
        typer.echo(json.dumps(as_dict(result), indent=2))
    else:
        _render(result, measured)
