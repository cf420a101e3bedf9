"""CORS for browser dashboards that call the API with a dashboard JWT (DRAVO_CORS_ORIGINS).

Starlette's CORSMiddleware does the work; this only makes its refusal of a preflight (an origin,
method or header not allowed) answer in the one error shape instead of plain text. No cookies are
involved (the JWT travels in `Authorization`), so credentials are not allowed.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from api.errors import error_response

ALLOWED_METHODS = ("GET", "POST", "DELETE")
ALLOWED_HEADERS = ("Authorization", "Content-Type")
# What a browser script may read besides the simple headers: paging, back-off, a new account.
EXPOSED_HEADERS = ("Link", "Retry-After", "Location")
PREFLIGHT_MAX_AGE_SECONDS = 600


class DashboardCors(CORSMiddleware):
    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        # Starlette's text names what was refused ("Disallowed CORS origin, headers").
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}
        return error_response(
            403, "cors_refused", f"CORS preflight refused: {refused} not allowed.", headers=headers
        )
