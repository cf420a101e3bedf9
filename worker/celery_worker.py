"""The worker's Celery app: `celery -A worker.celery_worker worker` (or `dravo-sync worker`) loads this.

Settings are read when this module is imported, which only the worker and beat processes do;
engines, Redis and HTTP clients are built later, per process (`worker.composition`).
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery
from celery.signals import beat_init, worker_process_init, worker_process_shutdown, worker_ready
from kombu.exceptions import OperationalError
from prometheus_client import REGISTRY, start_http_server

from ops.foundation.settings import get_settings
from worker.budget import budgets_from_settings
from worker.budget_gauges import BudgetCollector
from worker.celery_app import make_celery
from worker.composition import close_process_deps, process_deps, reset_process_deps
from worker.names import DISPATCH_DUE, DOWNSAMPLE_HISTORY
from worker.webhooks.names import SWEEP as WEBHOOK_SWEEP


def create_app() -> Celery:
    settings = get_settings()
    app = make_celery(settings, include=["worker.tasks", "worker.webhooks.tasks"])
    interval = settings.dispatch_interval_seconds
    app.conf.beat_schedule = {
        "dispatch-due": {
            "task": DISPATCH_DUE,
            "schedule": interval,
            # A tick that waited longer than its period is superseded by the next one.
            "options": {"expires": max(interval, 1.0)},
        },
        "downsample-history": {
            "task": DOWNSAMPLE_HISTORY,
            "schedule": settings.history_retention_interval_seconds,
            "options": {"expires": settings.history_retention_interval_seconds},
        },
        "webhooks-sweep": {
            "task": WEBHOOK_SWEEP,
            "schedule": settings.webhook_sweep_interval_seconds,
            "options": {"expires": max(settings.webhook_sweep_interval_seconds, 1.0)},
        },
    }
    # In-memory schedule: nothing to persist for one fixed entry, and no file in the cwd.
    app.conf.beat_scheduler = "celery.beat:Scheduler"
    app.conf.beat_max_loop_interval = max(1.0, min(interval, settings.webhook_sweep_interval_seconds, 5.0))
    return app


app = create_app()
log = structlog.get_logger()


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _fresh_process(**_: Any) -> None:
    reset_process_deps()  # a forked child must not reuse its parent's sockets


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _close_process(**_: Any) -> None:
    close_process_deps()


@worker_ready.connect  # type: ignore[untyped-decorator]
def _ready(**_: Any) -> None:
    port = get_settings().worker_metrics_port
    if port:
        # One exporter per worker host process; with the threads pool every task runs in it.
        try:
            REGISTRY.register(
                BudgetCollector(lambda: process_deps().budget, budgets_from_settings(get_settings()))
            )
            start_http_server(port, addr=get_settings().worker_metrics_host)
            log.info("worker.metrics_listening", port=port)
        except OSError as exc:
            log.warning("worker.metrics_unavailable", port=port, error=str(exc))
    log.info("worker.ready")  # test fixtures and supervisors wait for this line


@beat_init.connect  # type: ignore[untyped-decorator]
def _beat_ready(**_: Any) -> None:
    # Celery's first interval tick comes one interval after start; dispatch at once instead, so
    # a (re)started beat doesn't leave due accounts waiting. A tick is idempotent (leases).
    interval = get_settings().dispatch_interval_seconds
    try:
        app.send_task(DISPATCH_DUE, expires=max(interval, 1.0))
    except (OperationalError, OSError) as exc:  # the regular ticks follow anyway
        log.warning("beat.first_tick_failed", error=type(exc).__name__)
    log.info("beat.ready")
