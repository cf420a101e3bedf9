"""Serving one endpoint: claim its next deliveries, send them signed, record every attempt.

A task serves one endpoint for at most DRAVO_WEBHOOK_TASK_BUDGET_SECONDS, in rounds of at most
DRAVO_WEBHOOK_ENDPOINT_CONCURRENCY requests at once (the claim enforces that cap across workers).
Every attempt ends by its hard deadline (worker.webhooks.transport), and while it runs the task
renews its leases (worker.webhooks.renewal). Each attempt is recorded after it; a worker killed
mid-round leaves leased deliveries that are claimed again once their lease runs out: at least
once, with the same webhook-id.

    reply                         delivery           next
    2xx                           delivered          -
    anything else, no reply       pending (retry)    backoff with jitter
    ... past the retry window     failed             endpoint disabled after N in a row
    target refused (SSRF guard)   failed at once     the reason is the attempt's error

Every attempt also counts into the endpoint's circuit breaker (models.outbox.record_breaker):
after DRAVO_WEBHOOK_BREAKER_FAILURES failed attempts in a row the task stops and the sweep skips
the endpoint for DRAVO_WEBHOOK_BREAKER_OPEN_SECONDS, then one probe decides.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from models import outbox
from models.crypto import TokenCipher
from models.outbox import AttemptResult, ClaimedDelivery
from models.webhooks import WebhookEndpoint
from ops.foundation.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_LATENCY
from ops.foundation.settings import Settings
from worker.webhooks import signing
from worker.webhooks.deps import WebhookParts, lease, renew_every
from worker.webhooks.renewal import LeaseRenewal
from worker.webhooks.transport import Reply

log = structlog.get_logger()


@dataclass
class ServeReport:
    endpoint_id: str
    attempts: int = 0
    delivered: int = 0
    disabled: bool = False
    breaker_open: bool = False


class EndpointServer:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        cipher: TokenCipher,
        parts: WebhookParts,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._cipher = cipher
        self._parts = parts
        self._rng = rng or random.SystemRandom()

    def serve(
        self,
        endpoint_id: str,
        budget_seconds: float | None = None,
        alive: Callable[[], None] | None = None,
        renew_seconds: float | None = None,
    ) -> ServeReport:
        """Serve the endpoint until nothing is due, its budget is spent, it is disabled or its
        breaker opens. `alive` is called with every lease renewal (the task's Redis hold)."""
        report = ServeReport(endpoint_id)
        settings = self._settings
        deadline = time.monotonic() + (budget_seconds or settings.webhook_task_budget_seconds)
        with self._sessions() as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or endpoint.disabled_at is not None:
                return report
            url, secret = endpoint.url, self._cipher.decrypt_secret(endpoint.secret)
        cap = settings.webhook_endpoint_concurrency
        held = lease(settings)
        renewal = LeaseRenewal(self._sessions, held, renew_seconds or renew_every(settings), alive)
        with (
            renewal,
            ThreadPoolExecutor(max_workers=cap, thread_name_prefix="webhook") as pool,
        ):
            while time.monotonic() < deadline:
                with self._sessions.begin() as session:
                    batch = outbox.claim(session, endpoint_id, datetime.now(UTC), cap, held)
                if not batch:
                    break
                ids = [d.delivery_id for d in batch]
                renewal.hold(ids)
                results = list(pool.map(lambda d: self._attempt(url, secret, d), batch))
                with self._sessions.begin() as session:
                    disabled = outbox.record_attempts(
                        session, endpoint_id, results, disable_after=settings.webhook_disable_after_failures
                    )
                    opened = outbox.record_breaker(
                        session,
                        endpoint_id,
                        results,
                        after=settings.webhook_breaker_failures,
                        open_for=timedelta(seconds=settings.webhook_breaker_open_seconds),
                    )
                renewal.drop(ids)
                report.attempts += len(results)
                report.delivered += sum(r.outcome == "delivered" for r in results)
                if disabled:
                    report.disabled = True
                    log.warning("webhook.endpoint_disabled", endpoint_id=endpoint_id)
                    break
                if opened is not None:
                    report.breaker_open = True
                    log.warning("webhook.breaker_open", endpoint_id=endpoint_id, until=opened.isoformat())
                    break
        return report

    def _attempt(self, url: str, secret: str, delivery: ClaimedDelivery) -> AttemptResult:
        at = datetime.now(UTC)
        content = signing.body(delivery.payload)
        headers = signing.signed_headers(secret, delivery.webhook_id, at, content)
        reply = self._parts.transport.post(url, headers, content.encode())
        return self._result(delivery, at, reply)

    def _result(self, delivery: ClaimedDelivery, at: datetime, reply: Reply) -> AttemptResult:
        WEBHOOK_LATENCY.observe(reply.latency_ms / 1000)
        fields = {
            "endpoint_id": delivery.endpoint_id,
            "webhook_id": delivery.webhook_id,
            "attempt": delivery.attempt,
            "status_code": reply.status_code,
            "latency_ms": reply.latency_ms,
        }
        if reply.ok:
            WEBHOOK_ATTEMPTS.labels("delivered").inc()
            log.info("webhook.delivered", **fields)
            return AttemptResult(
                delivery.delivery_id,
                delivery.attempt,
                at,
                "delivered",
                reply.status_code,
                reply.latency_ms,
                None,
                None,
            )
        error = reply.error or f"HTTP {reply.status_code}"
        now = datetime.now(UTC)
        # The target policy refused the address: retrying can't change that (a loopback target
        # with DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP off in the worker, or DNS now pointing inside).
        retry_at = (
            None
            if reply.refused
            else self._parts.retry.next_attempt(delivery.attempt, delivery.created_at, now, self._rng)
        )
        outcome = "retry" if retry_at is not None else "failed"
        WEBHOOK_ATTEMPTS.labels("refused" if reply.refused else outcome).inc()
        log.warning(
            "webhook.attempt_failed",
            **fields,
            error=error,
            next_attempt_at=retry_at.isoformat() if retry_at else None,
        )
        return AttemptResult(
            delivery.delivery_id,
            delivery.attempt,
            at,
            outcome,
            reply.status_code,
            reply.latency_ms,
            error,
            retry_at,
        )
