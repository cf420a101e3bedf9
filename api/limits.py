"""A cap on request header size, whatever HTTP parser uvicorn runs.

uvicorn's h11 parser has a limit (`h11_max_incomplete_event_size`, set from the same setting by
`dravo-sync api`); httptools has none, so this middleware refuses, before any routing or
authentication, a request whose headers together exceed DRAVO_API_MAX_HEADER_BYTES: 431 in the
one error shape.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response

HEADER_TOO_LARGE = "request_header_too_large"


class HeaderSizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Name, value, ": " and CRLF per header, as on the wire.
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                response = error_response(
                    431, HEADER_TOO_LARGE, f"Request headers exceed {self.max_bytes} bytes."
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
