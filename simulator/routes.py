"""The simulator as one ASGI app: each platform under its own prefix, admin under `/_admin`.

Each simulated platform (`simulator.catalog`, one `SimPlatform` per registry entry) says what it
mounts where: the adapters' base URLs, e.g. `api_base="http://127.0.0.1:8900/x"`, so `/instagram`,
`/facebook`, `/x`, `/linkedin`, `/linkedin-oauth` (LinkedIn's OAuth host) and `/tiktok` for the
built-in platforms. Anything not modelled answers 404.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Router

from simulator import admin
from simulator.catalog import simulated_platforms
from simulator.common import reply
from simulator.state import Store

# Real platforms answer in tens of milliseconds; tests pass 0.
DEFAULT_LATENCY_MS = 40.0


def _mount(path: str, routes: Sequence[BaseRoute]) -> Mount:
    # No slash redirects: a path the platform does not serve is a 404, as on the real API.
    return Mount(path, app=Router(routes=list(routes), redirect_slashes=False))


async def _not_modelled(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return reply({"error": "not modelled by the dravo-sync simulator", "path": request.url.path}, status)


def create_app(latency_ms: float | None = None) -> Starlette:
    """A fresh simulator with empty state; `latency_ms` None means DEFAULT_LATENCY_MS."""
    app = Starlette(
        routes=[
            _mount("/_admin", admin.routes()),
            *(
                _mount(path, routes)
                for platform in simulated_platforms()
                for path, routes in platform.routes().items()
            ),
        ],
        exception_handlers={404: _not_modelled, 405: _not_modelled},
    )
    app.router.redirect_slashes = False
    app.state.store = Store(DEFAULT_LATENCY_MS if latency_ms is None else latency_ms)
    return app
