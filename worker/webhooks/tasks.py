"""The webhook tasks, on the `webhooks` queue: thin, taking ids; state lives in Postgres."""

from __future__ import annotations

from worker.celery_worker import app
from worker.composition import process_deps
from worker.webhooks.delivery import EndpointServer
from worker.webhooks.deps import process_parts
from worker.webhooks.names import DELIVER, SWEEP, WEBHOOKS_QUEUE
from worker.webhooks.sweep import hold_seconds, release, renew
from worker.webhooks.sweep import sweep as run_sweep


@app.task(name=SWEEP, ignore_result=True)  # type: ignore[untyped-decorator]
def sweep() -> int:
    return run_sweep(process_deps(), _publish).handed_out


@app.task(name=DELIVER, ignore_result=True)  # type: ignore[untyped-decorator]
def deliver(endpoint_id: str) -> int:
    deps = process_deps()
    try:
        server = EndpointServer(deps.settings, deps.sessions, deps.cipher, process_parts(deps.settings))
        return server.serve(endpoint_id, alive=lambda: renew(deps, endpoint_id)).attempts
    finally:
        release(deps, endpoint_id)


def _publish(endpoint_id: str) -> None:
    # Past its hold the endpoint is handed out again anyway: an older message is useless.
    deliver.apply_async(
        (endpoint_id,),
        queue=WEBHOOKS_QUEUE,
        routing_key=WEBHOOKS_QUEUE,
        expires=hold_seconds(process_deps()),
    )
