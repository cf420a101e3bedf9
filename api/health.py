"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

import psycopg
import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.dependencies import ReadinessDep
from api.errors import error_response
from api.params import known_query_only
from api.readpool import PoolTimeout
from api.schemas import Health, error_responses

router = APIRouter(dependencies=known_query_only())


@router.get(
    "/healthz",
    summary="The process is up.",
    operation_id="getLiveness",
    response_model=Health,
    responses=error_responses(),
)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok", "checks": {}})


@router.get(
    "/readyz",
    summary="Postgres and Redis are reachable.",
    operation_id="getReadiness",
    response_model=Health,
    responses=error_responses(503),
)
async def readyz(readiness: ReadinessDep) -> JSONResponse:
    # Both checks are awaited, not threaded: a storm of refresh waits can't starve the probe.
    failed: list[str] = []
    try:
        async with readiness.probe.connection() as connection:
            await connection.execute("SELECT 1")
    except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout):
        failed.append("postgres")
    try:
        await readiness.redis.ping()
    except (redis.ConnectionError, redis.TimeoutError):
        failed.append("redis")
    if failed:
        return error_response(503, "service_unavailable", f"Unreachable: {', '.join(failed)}.")
    return JSONResponse({"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}})
