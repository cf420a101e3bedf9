"""The worker's long-lived processes and the inline sync: worker, beat, flower, simulator, sync."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ops.cli.command import app, database_errors, fail, settings
from ops.foundation.logging import configure_logging
from worker.names import PLATFORM_QUEUES, REFRESH_QUEUE, platform_queue
from worker.webhooks.names import WEBHOOKS_QUEUE

if TYPE_CHECKING:  # the worker's dependencies load only when a sync runs
    from ops.foundation.settings import Settings
    from worker.composition import WorkerDeps

SYNC_QUEUES = ",".join([REFRESH_QUEUE, "sync.dispatch", *(platform_queue(p) for p in PLATFORM_QUEUES)])


def _usable_cores() -> int:
    # The cores this process may run on (a container's cpuset), not all of the host's.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@app.command("worker")
def worker(
    queues: Annotated[
        str | None,
        typer.Option(
            "--queues",
            "-Q",
            help="Comma-separated queues to consume (default: the sync queues, and a webhook process).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", "-c", min=1, help="Slots per process (default DRAVO_WORKER_CONCURRENCY)."
        ),
    ] = None,
    pool: Annotated[
        str | None,
        typer.Option("--pool", "-P", help="threads | prefork | solo | gevent (default DRAVO_WORKER_POOL)."),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            "-n",
            min=0,
            help="Worker processes (default DRAVO_WORKER_PROCESSES; 0: one per core).",
        ),
    ] = None,
) -> None:
    """Run Celery workers for the sync tasks, and one for webhooks beside them; SIGTERM/SIGINT
    finish running tasks and stop."""
    config = settings()
    configure_logging(config.log_level, config.log_json)
    _require_readable_credentials(config, "worker")
    wanted = config.worker_processes if processes is None else processes
    count = wanted or _usable_cores()
    chosen_pool = pool or config.worker_pool
    slots = concurrency or config.worker_concurrency
    # Webhook deliveries get a process (and pool) of their own by default, so a receiver that
    # holds its requests open can't take the slots syncs run in (docs/webhooks.md). An explicit
    # --queues runs exactly those queues (`-Q webhooks` for a dedicated webhook worker).
    webhook_process = queues is None
    chosen_queues = queues or SYNC_QUEUES
    if count > 1 or webhook_process:
        from ops.worker_group import run_worker_group

        command = [sys.executable, "-m", "ops.cli", "worker", "--processes", "1",
                   f"--queues={chosen_queues}", f"--concurrency={slots}", f"--pool={chosen_pool}"]  # fmt: skip
        commands = [command] * count
        if webhook_process:
            commands.append(webhook_worker_command(config, chosen_pool))
        base_port = config.worker_metrics_port
        # One exporter per process: ports base, base+1, ... (0 keeps them all off).
        envs = [
            {**os.environ, "DRAVO_WORKER_METRICS_PORT": str(base_port + i if base_port else 0)}
            for i in range(len(commands))
        ]
        raise typer.Exit(run_worker_group(commands, envs))

    from worker.celery_worker import app as celery_app

    celery_app.worker_main(
        [
            "worker",
            f"--pool={chosen_pool}",
            f"--concurrency={slots}",
            f"--queues={chosen_queues}",
            f"--loglevel={config.log_level}",
            # A unique node name per process: several workers may share a host.
            f"--hostname=dravo-{os.getpid()}@%h",
            # No --task-events: Flower turns them on while it runs (worker.celery_app).
            "--without-mingle",
            "--without-gossip",
        ]
    )


def webhook_worker_command(config: Settings, pool: str) -> list[str]:
    """The webhook worker: a slot per endpoint served at once (the sweep's cap) and one for the
    sweep itself, so its tasks never wait behind deliveries."""
    slots = config.webhook_max_active_endpoints + 1
    return [sys.executable, "-m", "ops.cli", "worker", "--processes", "1",
            f"--queues={WEBHOOKS_QUEUE}", f"--concurrency={slots}", f"--pool={pool}"]  # fmt: skip


@app.command("beat")
def beat() -> None:
    """Run Celery beat: it sends `sync.dispatch_due` every DRAVO_DISPATCH_INTERVAL_SECONDS."""
    config = settings()
    configure_logging(config.log_level, config.log_json)
    _require_readable_credentials(config, "beat")
    from worker.celery_worker import app as celery_app

    celery_app.Beat(loglevel=config.log_level, quiet=True).run()


def _require_readable_credentials(config: Settings, process: str) -> None:
    from ops.startup import StartupRefused, require_readable_credentials

    try:
        require_readable_credentials(config, process)
    except StartupRefused as exc:
        raise fail(str(exc), code=1) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("flower")
def flower(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 5555,
) -> None:
    """Run Flower on the broker (basic auth from DRAVO_FLOWER_USER / DRAVO_FLOWER_PASSWORD)."""
    config = settings()
    env = dict(os.environ)
    if config.flower_user and config.flower_password:
        # Through the environment, not argv: argv is visible to every user in `ps`.
        env["FLOWER_BASIC_AUTH"] = f"{config.flower_user}:{config.flower_password.get_secret_value()}"
    elif not _is_loopback(host):
        raise fail("set DRAVO_FLOWER_USER and DRAVO_FLOWER_PASSWORD to serve Flower beyond loopback")
    # The broker URL (which may carry the Redis password) goes through the environment too:
    # `celery --broker` reads BROKER_URL, and the app CELERY_BROKER_URL. No -A: Flower needs no
    # task code, and skipping it saves memory.
    env["BROKER_URL"] = env["CELERY_BROKER_URL"] = config.redis_url
    argv = [
        sys.executable, "-m", "celery", "flower",
        f"--address={host}", f"--port={port}", f"--max_tasks={config.flower_max_tasks}",
        "--purge_offline_workers=300",
    ]  # fmt: skip
    # exec: Flower itself receives SIGTERM/SIGINT and shuts down.
    os.execve(sys.executable, argv, env)  # noqa: S606 (fixed argv, our own interpreter)


@app.command("simulator")
def simulator(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8900,
    latency_ms: Annotated[
        int | None,
        typer.Option("--latency-ms", min=0, help="Added to every reply (default: a realistic 40 ms)."),
    ] = None,
) -> None:
    """Serve the platform simulator (every platform under one port; admin API under /_admin/)."""
    from simulator.server import run

    # The simulator needs no secrets, so no Settings (which may require them): the two logging
    # variables only, with the same meaning as everywhere else.
    configure_logging(
        os.environ.get("DRAVO_LOG_LEVEL", "INFO").upper(),
        os.environ.get("DRAVO_LOG_JSON", "").strip().lower() in ("1", "true", "yes", "on"),
    )

    run(host, port, latency_ms)


@app.command("sync")
def sync(
    account_id: Annotated[str | None, typer.Argument(help="Account id (acc_...).")] = None,
    all_accounts: Annotated[
        bool, typer.Option("--all", help="Sync every account (or those filtered).")
    ] = False,
    platform: Annotated[
        str | None, typer.Option("--platform", help="With --all: only this platform.")
    ] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="With --all: only this workspace.")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="With --all.")] = 8,
) -> None:
    """Sync one account in this process (no broker) and print the row as the API returns it;
    with --all, sync many with a progress bar and print a summary by status."""
    if (account_id is None) == (not all_accounts):
        raise fail("give one ACCOUNT_ID, or --all")
    if not all_accounts and (platform or workspace):
        raise fail("--platform and --workspace go with --all")
    if platform is not None and platform not in PLATFORM_QUEUES:
        raise fail(f"unknown platform {platform!r} (one of {', '.join(PLATFORM_QUEUES)})")
    config = settings()
    configure_logging(config.log_level, config.log_json)
    from worker.composition import build_deps

    deps = build_deps(config, pool_size=min(concurrency, 20) if all_accounts else 2)
    try:
        with database_errors():
            if account_id is not None:
                _sync_one(deps, account_id)
            else:
                _sync_many(deps, platform, workspace, concurrency)
    finally:
        deps.close()


def _sync_one(deps: WorkerDeps, account_id: str) -> None:
    from models.queries import get_account_row
    from worker.sync import SyncRunner

    with deps.sessions() as session:
        if get_account_row(session, account_id) is None:
            raise fail(f"unknown account {account_id!r}")
    report = SyncRunner(deps).run(account_id, None, "inline")
    if not report.claimed:
        typer.echo("note: not synced: another sync holds this account, or it waits for a reconnect", err=True)
    with deps.sessions() as session:
        row = get_account_row(session, account_id)
    assert row is not None
    typer.echo(json.dumps(row.to_json(), indent=2))


def _sync_many(deps: WorkerDeps, platform: str | None, workspace: str | None, concurrency: int) -> None:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from models.admin import list_account_ids
    from worker.sync import SyncRunner

    with deps.sessions() as session:
        ids = list_account_ids(session, platform=platform, workspace_id=workspace)
    runner = SyncRunner(deps)
    outcomes: Counter[str] = Counter()
    columns = (TextColumn("syncing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # Progress goes to stderr, so stdout stays the summary alone.
    with (
        Progress(*columns, console=Console(stderr=True)) as progress,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        task = progress.add_task("sync", total=len(ids))
        futures = [pool.submit(runner.run, account, None, "inline") for account in ids]
        for future in as_completed(futures):
            report = future.result()
            outcomes[report.sync_status or "skipped"] += 1
            progress.advance(task)
    typer.echo(json.dumps({"accounts": len(ids), "by_status": dict(sorted(outcomes.items()))}))
