"""The dispatcher's publisher: one tick's `sync.account` messages in one Redis round trip.

`apply_async` costs ~0.4 ms of CPU per message (routing, signals, reprs, serialising, kombu's
retry wrapper), which made publishing 1,000 messages most of a dispatcher tick. Per batch we let
`apply_async` build one message for the batch's queue, take it from the channel instead of
sending it (`worker.broker.Channel.capturing`), and send a copy per claim with only what differs
between two of its messages replaced: the task id (also its root id and correlation id), the
arguments and their repr. kombu then encodes, routes and buffers each copy as it does any publish
(`PublishBatch`, one non-transactional pipeline), so a worker receives what `apply_async` sends;
tests/integration/worker/test_publish.py compares the two field by field.

Brokers other than our Redis transport, or a message shaped otherwise than expected, take the
one-by-one `apply_async` path.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from celery import Celery, Task
from celery.utils.saferepr import saferepr
from kombu.messaging import Producer

from models.sync_state import DispatchClaim
from worker.broker import Captured, Channel
from worker.names import platform_queue

Send = Callable[[Sequence[DispatchClaim], Producer], None]


def send_each(task: Task, expires: float) -> Send:
    """The plain path: one `apply_async` per claim (retried by the publish retry policy)."""

    def send(claims: Sequence[DispatchClaim], producer: Producer) -> None:
        for claim in claims:
            queue = platform_queue(claim.platform)
            task.apply_async(
                _args(claim),
                queue=queue,
                routing_key=queue,
                # Past its lease a message is useless: the row is due again and re-claimed.
                expires=expires,
                producer=producer,
            )

    return send


def publish_batch(app: Celery, task: Task, claims: Sequence[DispatchClaim], expires: float) -> bool:
    """Send `claims` (one platform's) as copies of one `apply_async` message, in one pipeline.

    Returns False, having sent nothing, when this broker or message can't be batched this way.
    Raises what the pipeline raises (kombu's BatchPublishError, or a connection error).
    """
    if not claims:
        return True
    with app.producer_or_acquire() as producer:
        channel = producer.channel
        if not isinstance(channel, Channel) or not producer.supports_batch_publish:
            return False
        with channel.capturing() as captured:
            send_each(task, expires)(claims[:1], producer)
        prototype = _task_message(captured, platform_queue(claims[0].platform))
        template = _Template(prototype, app) if prototype is not None else None
        if prototype is None or template is None or template.tail is None:
            return False
        # An operation per message (its LPUSH), plus room so the block ends in one flush.
        batch = channel.create_publish_batch(max_size=len(claims) + 1)  # type: ignore[no-untyped-call]
        try:
            for claim in claims:
                batch.publish(template.copy(claim), exchange=prototype.exchange,
                              routing_key=prototype.routing_key, **prototype.options)  # fmt: skip
            batch.flush()
        finally:
            batch.close()
    return True


def _args(claim: DispatchClaim) -> tuple[str, str]:
    return (claim.account_id, str(claim.lease_token))


def _task_message(captured: list[Captured], queue: str) -> Captured | None:
    """The task message among what was captured (a task-sent event, if enabled, is dropped)."""
    tasks = [c for c in captured if c.routing_key == queue and "task" in c.message.get("headers", {})]
    if len(tasks) != 1:
        return None
    message = tasks[0].message
    headers, properties = message["headers"], message["properties"]
    # The fields _copy replaces must be the ones that carry the id; anything else: don't batch.
    task_id = headers.get("id")
    if not (
        task_id
        and headers.get("root_id") == task_id
        and properties.get("correlation_id") == task_id
        and message.get("content-type") == "application/json"
        and properties.get("delivery_info") == {}
    ):
        return None
    return tasks[0]


class _Template:
    """One prototype message, and what each copy changes in it."""

    def __init__(self, prototype: Captured, app: Celery) -> None:
        self.message = prototype.message
        self._maxsize: int = app.amqp.argsrepr_maxsize
        # The body is `[args, kwargs, embed]` as kombu's JSON serialiser wrote it: a copy writes
        # its own args and keeps the rest of the prototype's text.
        body: str = self.message["body"]
        args = json.loads(body)[0]
        head = "[" + json.dumps(args)
        self.tail = body[len(head) :] if body.startswith(head) else None

    def copy(self, claim: DispatchClaim) -> dict[str, Any]:
        assert self.tail is not None
        message = self.message
        task_id = str(uuid.uuid4())
        args = _args(claim)
        headers = {**message["headers"], "id": task_id, "root_id": task_id, "argsrepr": self._repr(args)}
        # delivery_info is filled in by the channel, per message: each copy needs its own dict.
        properties = {**message["properties"], "correlation_id": task_id, "delivery_info": {}}
        body = "[" + json.dumps(list(args)) + self.tail
        return {**message, "body": body, "headers": headers, "properties": properties}

    def _repr(self, args: tuple[str, str]) -> str:
        # Celery's saferepr equals repr for short strings of id characters (ids and UUIDs), at a
        # tenth of the cost; anything else gets saferepr itself.
        text = repr(args)
        if len(text) < self._maxsize and all(_ID_CHARS.issuperset(a) for a in args):
            return text
        return str(saferepr(args, self._maxsize))


_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:.")
