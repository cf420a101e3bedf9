"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from api.dependencies import StateDep
from api.errors import error_response
from api.schemas import Health, error_responses

router = APIRouter()


@router.get("/healthz", summary="The process is up.", response_model=Health)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok", "checks": {}})


@router.get(
    "/readyz",
    summary="Postgres and Redis are reachable.",
    response_model=Health,
    responses=error_responses(503),
)
async def readyz(state: StateDep) -> JSONResponse:
    failed: list[str] = []
    try:
        await state.read_in_thread(lambda connection: connection.execute(text("SELECT 1")))
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        failed.append("postgres")
    try:
        await state.in_thread(state.redis.ping)
    except (redis.ConnectionError, redis.TimeoutError):
        failed.append("redis")
    if failed:
        return error_response(503, "service_unavailable", f"Unreachable: {', '.join(failed)}.")
    return JSONResponse({"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}})
