"""The Celery tasks: thin, idempotent, taking ids. State lives in Postgres."""

from __future__ import annotations

from collections.abc import Sequence

from models.sync_state import DispatchClaim
from worker.celery_worker import app
from worker.composition import process_deps
from worker.dispatch import dispatch_due as run_dispatch
from worker.names import DISPATCH_DUE, DOWNSAMPLE_HISTORY, SYNC_ACCOUNT, platform_queue
from worker.retention import run_retention
from worker.sync import SyncRunner


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
    expires = process_deps().settings.lease_seconds
    with app.producer_or_acquire() as producer:
        for claim in claims:
            queue = platform_queue(claim.platform)
            sync_account.apply_async(
                (claim.account_id, str(claim.lease_token)),
                queue=queue,
                routing_key=queue,
                # Past its lease a message is useless: the row is due again and re-claimed.
                expires=expires,
                producer=producer,
            )
    return len(claims)
