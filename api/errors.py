"""One JSON error shape for every failure: `{"error": {"code", "message", "param"?}}`.

    ApiError                 (raised by handlers and dependencies)
    ├── Unauthorized         401 unauthorized
    ├── Forbidden            403 forbidden (a valid token without the scope a route needs)
    ├── NotFound             404 not_found
    ├── InvalidParameter     422 invalid_parameter (names the parameter)
    ├── BodyTooLarge         413 request_too_large (api.guard; a Starlette HTTPException, so
    │                        FastAPI's body reading passes it on instead of making it a 400)
    ├── TooManyRequests      429 rate_limited (+ Retry-After; not adapters.errors.RateLimited)
    └── ServiceUnavailable   503 service_unavailable

Framework errors (validation, unknown route, wrong method), outages of Postgres or Redis and the
API's own time limits (statement_timeout, lock_timeout, no pooled connection free: 503) are
mapped onto the same shape by `install_error_handlers`, and so is anything unexpected (a 500 with
no traceback in the body; the traceback goes to the log), so a client never sees another body.

Logging by who can cause it: input a client sent that the database refuses (a NUL byte, a number
out of range) is a 422 and a warning, never an error-level traceback a tenant could trigger at
will; an unexpected error is a bug, logged at error level with its traceback. Every line carries
the request's `request_id` (api.guard), which the response repeats in `X-Request-Id`.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import psycopg.errors
import redis
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.readpool import PoolTimeout
from worker.refresh import RefreshUnavailable

log = structlog.get_logger("dravo.api")

UNAUTHORIZED_MESSAGE = "Missing or invalid API key / JWT."
# Outages a client can't cause or fix: the database or Redis are unreachable or timing out.
OUTAGES: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    # The async read pool's driver errors (api.readpool): unreachable server, broken connection.
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    RefreshUnavailable,
    PoolTimeout,
)
# Outages that are a limit firing: the database answered, but not within the API's time limits.
TIMEOUTS: tuple[type[Exception], ...] = (
    psycopg.errors.QueryCanceled,
    psycopg.errors.LockNotAvailable,
    sa_exc.TimeoutError,
    PoolTimeout,
)


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"

    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED_MESSAGE, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class InvalidParameter(ApiError):
    status = 422
    code = "invalid_parameter"


class TooManyRequests(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(ApiError):
    status = 503
    code = "service_unavailable"


BODY_TOO_LARGE = "request_too_large"


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body exceeds {max_bytes} bytes.", headers={"Connection": "close"})


# Input the database refuses: the client's fault, not ours (NUL in text, out-of-range numbers...).
BAD_INPUT: tuple[type[Exception], ...] = (sa_exc.DataError, psycopg.DataError)


def error_body(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    return {"error": error}


def error_response(
    status: int, code: str, message: str, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(code, message, param), headers=headers)


def _parameter_name(loc: tuple[Any, ...]) -> str:
    # loc is ("query", "limit") or ("path", "account_id"); FastAPI reports the alias (accountId).
    names = [str(part) for part in loc[1:]] if len(loc) > 1 else [str(part) for part in loc]
    return ".".join(names) or "request"


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("request",), "msg": "invalid request"}
    param = _parameter_name(tuple(first.get("loc", ())))
    reason = str(first.get("msg", "invalid value"))
    return error_response(
        422, InvalidParameter.code, f"Invalid value for parameter '{param}': {reason}.", param
    )


_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: BODY_TOO_LARGE}


def _allowed_methods(request: Request) -> str:
    """The documented methods of this path, from the OpenAPI document (built once per app):
    Starlette's own Allow names only the first route's (`OPTIONS /v1/webhooks` said POST, not GET)."""
    path = request.url.path
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)), path):
            return ", ".join(sorted(method.upper() for method in operations))
    return ""


def outage_response(path: str, exc: Exception) -> JSONResponse:
    """503 for an outage of Postgres or Redis (one of OUTAGES), logged as a warning."""
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    timed_out = isinstance(exc, TIMEOUTS) or isinstance(cause, TIMEOUTS)
    log.warning(
        "api.dependency_timeout" if timed_out else "api.dependency_unavailable",
        path=path,
        error=type(cause).__name__,
    )
    message = (
        "The database did not answer in time; try again shortly."
        if timed_out
        else "A backing service is unavailable; try again shortly."
    )
    return error_response(503, ServiceUnavailable.code, message, headers={"Retry-After": "1"})


def unexpected_response(path: str, exc: BaseException) -> JSONResponse:
    """500 for a bug: the traceback (plain, no locals: ops.foundation.logging) to the log only."""
    log.error("api.unhandled_error", path=path, error=type(exc).__name__, exc_info=exc)
    return error_response(500, ApiError.code, "Internal error; the service operator has been alerted.")


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.param, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Anyone can send bad input: a warning with the request id (bound by api.guard), naming
        # the route's template and the parameter, never the value (it could be a pasted secret).
        errors = exc.errors()
        log.warning(
            "api.invalid_input",
            route=getattr(request.scope.get("route"), "path", ""),
            param=_parameter_name(tuple(errors[0].get("loc", ()))) if errors else "request",
            error=str(errors[0].get("type", "invalid")) if errors else "invalid",
        )
        return _validation_response(exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:
            # FastAPI's "error parsing the body" (bytes that are not JSON): a bad body like any
            # other, so the one documented answer, 422 naming `body`.
            return error_response(
                422,
                InvalidParameter.code,
                "Invalid request body: a JSON object with the documented fields is required.",
                "body",
            )
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = "Not found." if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return error_response(exc.status_code, code, message, headers=headers)

    async def on_outage(request: Request, exc: Exception) -> JSONResponse:
        return outage_response(request.url.path, exc)

    async def on_bad_input(request: Request, exc: Exception) -> JSONResponse:
        # A warning, no traceback: anyone can send such input, and it is no fault of ours.
        cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
        log.warning("api.invalid_input", path=request.url.path, error=type(cause).__name__)
        return error_response(
            422, InvalidParameter.code, "Invalid request: a value can't be stored or compared.", "request"
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug: the details go to the log, the client gets the one shape and no traceback.
        return unexpected_response(request.url.path, exc)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for outage in OUTAGES:
        app.add_exception_handler(outage, on_outage)
    for bad_input in BAD_INPUT:
        app.add_exception_handler(bad_input, on_bad_input)
    # Starlette serves this from its outermost middleware, for any exception nothing above caught.
    app.add_exception_handler(Exception, on_unexpected)
