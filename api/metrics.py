"""GET /metrics (Prometheus), for the operator only.

It shows every tenant's counts, so it is served only when DRAVO_METRICS_TOKEN is set, and only to
`Authorization: Bearer <DRAVO_METRICS_TOKEN>` (Prometheus' `authorization` scrape setting): a
token, unlike a loopback-only listener, works behind the load balancer and for every
`--workers` process alike. Unset, the route does not exist (404). A scrape costs no query: the
freshness gauges are recomputed in the background (api.gauges.FreshnessGauges) and the rest are
in-memory counters.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from api.dependencies import GaugesDep, SettingsDep
from api.errors import NotFound, Unauthorized
from api.gauges import FreshnessGauges, VersionLifetimeCollector
from ops.versions import configured_overrides

router = APIRouter()


def _registry(request: Request, gauges: FreshnessGauges) -> CollectorRegistry:
    registry: CollectorRegistry | None = getattr(request.app.state, "freshness_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(gauges)
        registry.register(VersionLifetimeCollector(configured_overrides()))
        request.app.state.freshness_registry = registry
    return registry


def _authorised(request: Request, token: str) -> bool:
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.encode(), token.encode())


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep, gauges: GaugesDep) -> Response:
    token = settings.metrics_token
    if token is None:
        raise NotFound("Not found.")
    if not _authorised(request, token.get_secret_value()):
        raise Unauthorized()
    # In-memory values only: rendering them takes well under a millisecond on the event loop.
    body = generate_latest(REGISTRY) + generate_latest(_registry(request, gauges))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
