"""Per-process parts of webhook delivery, built on first use like worker.composition."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import timedelta

from ops.foundation.settings import Settings
from worker.webhooks.retry import RetryPolicy
from worker.webhooks.transport import WebhookTransport


@dataclass
class WebhookParts:
    transport: WebhookTransport
    retry: RetryPolicy


def build_parts(settings: Settings) -> WebhookParts:
    return WebhookParts(
        transport=WebhookTransport(
            timeout=settings.webhook_timeout_seconds,
            connect_timeout=settings.webhook_connect_timeout_seconds,
            attempt_deadline=settings.webhook_attempt_deadline_seconds,
            allow_loopback_http=settings.webhook_allow_loopback_http,
        ),
        retry=retry_policy(settings),
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_seconds=settings.webhook_backoff_base_seconds,
        max_seconds=settings.webhook_backoff_max_seconds,
        window=timedelta(seconds=settings.webhook_retry_window_seconds),
    )


def lease(settings: Settings) -> timedelta:
    """Longer than one attempt can take (its hard deadline), with room for recording it; a
    running task renews it anyway (worker.webhooks.delivery)."""
    return timedelta(seconds=settings.webhook_attempt_deadline_seconds + 15)


def renew_every(settings: Settings) -> float:
    """How often a running delivery task renews its leases: three times per lease."""
    return lease(settings).total_seconds() / 3


_lock = threading.Lock()
_parts: WebhookParts | None = None
_pid: int | None = None


def process_parts(settings: Settings) -> WebhookParts:
    global _parts, _pid
    with _lock:
        if _parts is None or _pid != os.getpid():
            _parts = build_parts(settings)
            _pid = os.getpid()
        return _parts
