"""What every request passes before routing: a request id, a body limit, and authentication
before a body is read. A pure-ASGI middleware (no buffering of bodies, no thread hop).

- Request id: `req_<hex>`, bound to every log line of the request (structlog contextvars) and
  answered in `X-Request-Id`, so a client's report finds the warning it caused.
- A NUL or another control character in a path id is refused by the route's own parameter
  check (422 naming the parameter, `api.params`), before any handler or database sees it.
- Body limit (DRAVO_API_MAX_BODY_BYTES): a declared `Content-Length` over it is refused with 413
  before anything is read; a chunked body is counted as it is read, and the read that passes the
  limit raises `BodyTooLarge` (413). Either way in the one error shape, and the connection is
  closed (`Connection: close`) so the rest is never read.
- Authentication first: a `/v1/` request that may carry a body (POST, PUT, PATCH, DELETE) is
  authenticated from its headers before the app runs; a bad or missing token is 401 without
  reading the body. The principal is handed on in the request state (`api.dependencies`).
- A bug (an exception nothing handled) is answered 500 here, once logged with its plain
  traceback (`api.errors.unexpected_response`), instead of also being re-raised to uvicorn, which
  would log it a second time.
"""

from __future__ import annotations

import secrets

import structlog
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.dependencies import authenticate_request
from api.errors import (
    BODY_TOO_LARGE,
    OUTAGES,
    ApiError,
    BodyTooLarge,
    error_response,
    outage_response,
    unexpected_response,
)

log = structlog.get_logger("dravo.api")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUTHENTICATED_PREFIX = "/v1/"


def new_request_id() -> str:
    return f"req_{secrets.token_hex(8)}"


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            refusal = await self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
                return
            try:
                await self.app(scope, self._limited(receive), send_with_id)
            except BodyTooLarge as exc:
                if started:
                    raise
                await self._too_large(scope["path"], exc)(scope, receive, send_with_id)
            except Exception as exc:
                if started:
                    raise
                await unexpected_response(scope["path"], exc)(scope, receive, send_with_id)

    async def _refusal(self, scope: Scope) -> Response | None:
        """The answer to a request refused on its headers alone, or None to serve it."""
        path: str = scope["path"]
        headers = Headers(scope=scope)
        has_body = (
            _declared_length(headers) not in (None, 0)
            or "chunked" in headers.get("transfer-encoding", "").lower()
        )
        declared = _declared_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            return self._too_large(path, BodyTooLarge(self.max_body_bytes))
        if scope["method"] in BODY_METHODS and path.startswith(AUTHENTICATED_PREFIX):
            state = scope["app"].state.dravo
            try:
                principal = await authenticate_request(state, _bearer_token(headers))
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message, exc.param, exc.headers)
                return _closing(response, has_body)
            except OUTAGES as exc:
                return _closing(outage_response(path, exc), has_body)
            scope["state"]["principal"] = principal
        return None

    def _limited(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited

    def _too_large(self, path: str, exc: BodyTooLarge) -> Response:
        log.warning("api.body_too_large", path=path, limit=self.max_body_bytes)
        return error_response(413, BODY_TOO_LARGE, str(exc.detail), headers={"Connection": "close"})


def _declared_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"]) if "content-length" in headers else None
    except ValueError:
        return None  # uvicorn's parser refuses it before we see it


def _bearer_token(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _closing(response: Response, has_body: bool) -> Response:
    # The body is left unread: close the connection rather than read and discard it.
    if has_body:
        response.headers["Connection"] = "close"
    return response
