"""The Celery configuration, as a factory: no connection is made and no task imported here.

`worker.celery_worker` builds the worker's app from it (tasks included); `worker.refresh` builds a bare
publisher from it, so the API can send `sync.account` by name without importing adapters.
Choices follow docs/worker.md and Celery's Redis broker guide
(https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html):
- acks_late + reject_on_worker_lost + prefetch 1: a message is only gone once its task ended;
  the Postgres lease makes a second run harmless.
- visibility timeout > hard time limit: kombu must not redeliver a message whose task still runs.
- no result backend: the outcome lives in Postgres (account_sync).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.entity import Exchange, Queue

from ops.foundation.settings import Settings
from worker.names import (
    DISPATCH_DUE,
    DOWNSAMPLE_HISTORY,
    PLATFORM_QUEUES,
    REFRESH_QUEUE,
    SYNC_ACCOUNT,
    platform_queue,
)
from worker.webhooks.names import WEBHOOKS_QUEUE


def queues() -> list[Queue]:
    exchange = Exchange("dravo", type="direct")  # type: ignore[no-untyped-call]
    names = [REFRESH_QUEUE, "sync.dispatch", *(platform_queue(p) for p in PLATFORM_QUEUES), WEBHOOKS_QUEUE]
    return [Queue(name, exchange, routing_key=name) for name in names]  # type: ignore[no-untyped-call]


# By name: kombu imports it when the first connection is made, not this module.
REDIS_TRANSPORT = "worker.broker:Transport"


def broker_transport(url: str) -> str | None:
    """Our Redis transport (`worker.broker`) for `redis://` URLs; None: kombu's choice by scheme."""
    return REDIS_TRANSPORT if url.startswith("redis://") else None


def celery_config(settings: Settings) -> dict[str, Any]:
    visibility = settings.broker_visibility_timeout_seconds
    return {
        "broker_url": settings.redis_url,
        "broker_transport": broker_transport(settings.redis_url),
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "timezone": "UTC",
        "enable_utc": True,
        "task_queues": queues(),
        "task_default_queue": REFRESH_QUEUE,
        "task_default_exchange": "dravo",
        "task_routes": {
            DISPATCH_DUE: {"queue": "sync.dispatch", "routing_key": "sync.dispatch"},
            # Maintenance rides the dispatcher's queue, which every default worker consumes.
            DOWNSAMPLE_HISTORY: {"queue": "sync.dispatch", "routing_key": "sync.dispatch"},
            # Webhook work has its own queue: a slow receiver never waits in front of a sync.
            "webhooks.*": {"queue": WEBHOOKS_QUEUE, "routing_key": WEBHOOKS_QUEUE},
        },
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit_seconds,
        "task_time_limit": settings.task_time_limit_seconds,
        # Set in all three places, or kombu silently keeps its 1 h default
        # (https://github.com/celery/celery/issues/7651).
        "broker_transport_options": {
            "visibility_timeout": visibility,
            "socket_connect_timeout": 5,
            "socket_timeout": 30,
            "socket_keepalive": True,
            "health_check_interval": 10,
        },
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "visibility_timeout": visibility,
        "broker_connection_retry_on_startup": True,
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        "broker_connection_timeout": 4,
        # Publishing gives up within about a second, so a refresh request never hangs on it.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "broker_pool_acquire_timeout": 2.0,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # No task events unless someone watches: Flower broadcasts `enable_events` to every worker
        # when it starts (and every 5 s, for workers started later), which turns them on. Always on,
        # they cost ~10 % of a worker's CPU per sync. No task-sent events either: the dispatcher
        # publishes in batches without them, and Flower lists a task from its received event on.
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }


def make_celery(settings: Settings, *, include: list[str] | None = None) -> Celery:
    app = Celery("dravo_sync", include=include or [], set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


__all__ = ["DISPATCH_DUE", "SYNC_ACCOUNT", "celery_config", "make_celery", "queues"]
