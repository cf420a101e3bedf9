"""The Celery tasks: thin, idempotent, taking ids. State lives in Postgres."""

from __future__ import annotations

from collections.abc import Sequence

import redis
import structlog
from kombu.exceptions import BatchPublishError, OperationalError

from models.sync_state import DispatchClaim
from worker.celery_worker import app
from worker.composition import process_deps
from worker.dispatch import dispatch_due as run_dispatch
from worker.names import DISPATCH_DUE, DOWNSAMPLE_HISTORY, SYNC_ACCOUNT
from worker.publish import publish_batch, send_each
from worker.retention import run_retention
from worker.sync import SyncRunner

log = structlog.get_logger()


@app.task(name=SYNC_ACCOUNT, ignore_result=True)  # type: ignore[untyped-decorator]
def sync_account(account_id: str, lease_token: str | None = None) -> None:
    """Sync one account. With a lease token: a dispatched sync; without: an on-demand refresh."""
    SyncRunner(process_deps()).run(account_id, lease_token, "dispatched" if lease_token else "refresh")


@app.task(name=DISPATCH_DUE, ignore_result=True)  # type: ignore[untyped-decorator]
def dispatch_due() -> int:
    deps = process_deps()
    return run_dispatch(deps, _publish).total


@app.task(name=DOWNSAMPLE_HISTORY, ignore_result=True)  # type: ignore[untyped-decorator]
def downsample_history() -> int:
    """Enforce the history retention policy (batched; a second run at once is harmless)."""
    return run_retention(process_deps()).deleted


def _publish(claims: Sequence[DispatchClaim]) -> int:
    """Enqueue one `sync.account` per claim: one pipelined batch, else one `apply_async` each."""
    expires = process_deps().settings.lease_seconds
    try:
        if publish_batch(app, sync_account, claims, expires):
            return len(claims)
    except (BatchPublishError, OperationalError, redis.RedisError) as exc:
        # The batch has no retry of its own; one by one, each publish gets the retry policy.
        # Messages of the failed batch that did arrive are duplicates, which the lease makes
        # harmless: the second task finds its token already taken and skips.
        log.warning("dispatch.batch_publish_failed", claims=len(claims), error=type(exc).__name__)
    with app.producer_or_acquire() as producer:
        send_each(sync_account, expires)(claims, producer)
    return len(claims)
