"""GET /metrics: Prometheus text, including the data-freshness gauges read from PostgreSQL."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy.orm import sessionmaker

from ops.metrics import FreshnessCollector
from ops.webhook_metrics import WebhookCollector

router = APIRouter()


def _freshness_registry(request: Request) -> CollectorRegistry:
    # Built once per app, on first scrape, from the lifespan's engine and Redis client.
    registry: CollectorRegistry | None = getattr(request.app.state, "freshness_registry", None)
    if registry is None:
        state = request.app.state.dravo
        registry = CollectorRegistry(auto_describe=False)
        registry.register(FreshnessCollector(sessionmaker(state.reader), state.redis))
        registry.register(WebhookCollector(sessionmaker(state.reader)))
        request.app.state.freshness_registry = registry
    return registry


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry = _freshness_registry(request)
    body = await run_in_threadpool(lambda: generate_latest(REGISTRY) + generate_latest(registry))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
