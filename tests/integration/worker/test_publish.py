"""The dispatcher's batch publisher sends what `apply_async` sends, in one pipeline (docs/benchmarks.md)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis
from celery import Celery, Task

from models.sync_state import DispatchClaim
from ops.foundation.settings import Settings
from worker.celery_app import make_celery
from worker.names import SYNC_ACCOUNT, platform_queue
from worker.publish import publish_batch, send_each

# What differs between any two messages `apply_async` sends: ids, delivery tag, arguments, expiry.
PER_MESSAGE_HEADERS = {"id", "root_id", "argsrepr", "expires"}
PER_MESSAGE_PROPERTIES = {"correlation_id", "delivery_tag"}


@pytest.fixture
def app(settings: Settings, redis_client: redis.Redis) -> Iterator[Celery]:
    celery = make_celery(settings)
    yield celery
    celery.close()


@pytest.fixture
def task(app: Celery) -> Task:
    return _register(app)


def _sync_account(account_id: str, lease_token: str | None = None) -> None:
    """Only its name and options matter: nothing consumes these messages."""


def _register(app: Celery) -> Task:
    app.task(name=SYNC_ACCOUNT, ignore_result=True, shared=False)(_sync_account)
    return app.tasks[SYNC_ACCOUNT]


def _claims(n: int, platform: str = "x") -> list[DispatchClaim]:
    return [
        DispatchClaim(account_id=f"acc_{i:016x}", platform=platform, lease_token=uuid.uuid4())
        for i in range(n)
    ]


def _queued(client: redis.Redis, platform: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in reversed(client.lrange(platform_queue(platform), 0, -1))]


def _args(message: dict[str, Any]) -> list[Any]:
    return list(json.loads(base64.b64decode(message["body"]))[0])


def _fixed(message: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in message["headers"].items() if k not in PER_MESSAGE_HEADERS}
    properties = {k: v for k, v in message["properties"].items() if k not in PER_MESSAGE_PROPERTIES}
    body = json.loads(base64.b64decode(message["body"]))
    return {**message, "headers": headers, "properties": properties, "body": body[1:]}


def test_a_batched_message_is_an_apply_async_message(
    app: Celery, task: Task, redis_client: redis.Redis
) -> None:
    one, batched = _claims(2)
    with app.producer_or_acquire() as producer:
        send_each(task, 300)([one], producer)
    assert publish_batch(app, task, [batched], 300)

    plain, copy = _queued(redis_client, "x")
    assert _fixed(copy) == _fixed(plain)
    assert _args(copy) == [batched.account_id, str(batched.lease_token)]
    assert copy["headers"]["argsrepr"] == repr((batched.account_id, str(batched.lease_token)))
    task_id = copy["headers"]["id"]
    assert task_id != plain["headers"]["id"]
    assert copy["headers"]["root_id"] == copy["properties"]["correlation_id"] == task_id
    assert copy["properties"]["delivery_tag"] != plain["properties"]["delivery_tag"]
    expiry = [datetime.fromisoformat(m["headers"]["expires"]) for m in (plain, copy)]
    assert abs((expiry[1] - expiry[0]).total_seconds()) < 5


def test_a_batch_is_one_message_per_claim_with_its_own_ids(
    app: Celery, task: Task, redis_client: redis.Redis
) -> None:
    claims = _claims(300, "tiktok")
    assert publish_batch(app, task, claims, 300)

    queued = _queued(redis_client, "tiktok")
    assert [_args(m) for m in queued] == [[c.account_id, str(c.lease_token)] for c in claims]
    assert len({m["headers"]["id"] for m in queued}) == len(claims)
    assert len({m["properties"]["delivery_tag"] for m in queued}) == len(claims)
    assert publish_batch(app, task, [], 300)


def test_another_broker_transport_is_not_batched(settings: Settings, redis_client: redis.Redis) -> None:
    app = make_celery(settings)
    app.conf.broker_transport = None  # kombu's own Redis transport: no capturing channel
    try:
        assert not publish_batch(app, _register(app), _claims(3), 300)
        assert redis_client.llen(platform_queue("x")) == 0
    finally:
        app.close()
