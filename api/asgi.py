"""The FastAPI application factory. Nothing is built at import time: the lifespan is the
composition root (engine, Redis client, refresh service), once per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import accounts, health, management, metrics, webhooks
from api.cors import DashboardCors
from api.errors import install_error_handlers
from api.guard import RequestGuard
from api.limits import HeaderSizeLimit
from api.state import build_state
from ops.foundation.settings import Settings, get_settings

DESCRIPTION = """\
Official account metrics of connected social accounts (Instagram, Facebook Pages, X, LinkedIn,
TikTok), kept fresh by dravo-sync.

Every request under `/v1` needs `Authorization: Bearer <token>`, where the token is a Dravo API
key (`dra_…`) or a dashboard JWT. Every error has the body
`{"error": {"code": "...", "message": "..."}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API. `settings` defaults to the environment's, read when this is called."""
    config = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(config)
        app.state.dravo = state
        await state.open()
        if config.metrics_token is not None:  # no /metrics, no gauges to compute
            await state.gauges.start()
        await state.refresh.start()
        try:
            yield
        finally:
            await state.aclose()

    app = FastAPI(
        title="dravo-sync",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # The schema is public; interactive docs are not served from the API process.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=config.api_max_body_bytes)
    app.add_middleware(HeaderSizeLimit, max_bytes=config.api_max_header_bytes)
    if config.cors_origins:  # outermost: preflights are answered before any other check
        app.add_middleware(DashboardCors, origins=config.cors_origins)
    app.include_router(accounts.router, tags=["analytics"])
    app.include_router(management.router, tags=["management"])
    app.include_router(health.router, tags=["operations"])
    app.include_router(metrics.router)
    app.include_router(webhooks.router, tags=["webhooks"])
    return app
