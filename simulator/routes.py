"""The simulator as one ASGI app: each platform under its own prefix, admin under `/_admin`.

Prefixes (the adapters' base URLs, e.g. `api_base="http://127.0.0.1:8900/x"`):
`/instagram`, `/facebook`, `/x`, `/linkedin`, `/linkedin-oauth` (LinkedIn's OAuth host),
`/tiktok`. Anything not modelled answers 404.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router

from simulator import admin, linkedin, meta, tiktok, x
from simulator.common import reply
from simulator.state import Store

# Real platforms answer in tens of milliseconds; tests pass 0.
DEFAULT_LATENCY_MS = 40.0


def _mount(path: str, routes: list[Route]) -> Mount:
    # No slash redirects: a path the platform does not serve is a 404, as on the real API.
    return Mount(path, app=Router(routes=list[BaseRoute](routes), redirect_slashes=False))


async def _not_modelled(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return reply({"error": "not modelled by the dravo-sync simulator", "path": request.url.path}, status)


def create_app(latency_ms: float | None = None) -> Starlette:
    """A fresh simulator with empty state; `latency_ms` None means DEFAULT_LATENCY_MS."""
    app = Starlette(
        routes=[
            _mount("/_admin", admin.routes()),
            _mount("/instagram", meta.instagram_routes()),
            _mount("/facebook", meta.facebook_routes()),
            _mount("/x", x.routes()),
            _mount("/linkedin-oauth", linkedin.oauth_routes()),
            _mount("/linkedin", linkedin.routes()),
            _mount("/tiktok", tiktok.routes()),
        ],
        exception_handlers={404: _not_modelled, 405: _not_modelled},
    )
    app.router.redirect_slashes = False
    app.state.store = Store(DEFAULT_LATENCY_MS if latency_ms is None else latency_ms)
    return app
