"""The admin API under `/_admin/`: seed accounts, set scenarios, read request counts, reset."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ops.foundation import platforms as platform_registry
from simulator.common import reply, store_of
from simulator.latency import LatencyBody
from simulator.quota import BudgetBody
from simulator.state import PLATFORMS, SimAccount, canonical_id, new_token, scenarios_for


class ScenarioBody(BaseModel):
    scenario: str = "healthy"
    params: dict[str, Any] = Field(default_factory=dict)


class AccountBody(ScenarioBody):
    platform: str
    platform_account_id: str = Field(min_length=1)
    access_token: str | None = None
    refresh_token: str | None = None
    scopes: list[str] = Field(default_factory=list)
    handle: str = "dravo.demo"
    counters: dict[str, int] = Field(default_factory=dict)
    growth_per_hour: dict[str, float] = Field(default_factory=dict)
    latency_ms: float | None = Field(None, ge=0)
    token_expires_in: int | None = None
    refresh_token_expires_in: int | None = None

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if value not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}")
        return value

    @model_validator(mode="after")
    def _scenario(self) -> AccountBody:
        if self.scenario not in scenarios_for(self.platform):
            raise ValueError(f"unknown scenario {self.scenario!r} for {self.platform}")
        return self


def _invalid(exc: ValidationError) -> Response:
    return reply({"error": "invalid request", "details": [str(e["msg"]) for e in exc.errors()]}, 422)


async def upsert_account(request: Request) -> Response:
    try:
        body = AccountBody.model_validate_json(await request.body())
    except ValidationError as exc:
        return _invalid(exc)
    now = time.time()
    account = SimAccount(
        platform=body.platform,
        platform_account_id=canonical_id(body.platform, body.platform_account_id),
        access_token=body.access_token or new_token(f"sim-{body.platform}-at-"),
        refresh_token=body.refresh_token,
        scopes=body.scopes,
        handle=body.handle,
        scenario=body.scenario,
        params=body.params,
        counters=body.counters,
        growth_per_hour=body.growth_per_hour,
        latency_ms=body.latency_ms,
        access_expires_at=now + body.token_expires_in if body.token_expires_in is not None else None,
        refresh_expires_at=now + body.refresh_token_expires_in
        if body.refresh_token_expires_in is not None
        else None,
    )
    return reply(store_of(request).upsert(account).public())


def _account(request: Request) -> SimAccount | None:
    return store_of(request).get(request.path_params["platform"], request.path_params["account_id"])


async def get_account(request: Request) -> Response:
    account = _account(request)
    return reply(account.public()) if account else reply({"error": "no such account"}, 404)


async def list_accounts(request: Request) -> Response:
    return reply({"accounts": [a.public() for a in store_of(request).accounts.values()]})


async def set_scenario(request: Request) -> Response:
    account = _account(request)
    if account is None:
        return reply({"error": "no such account"}, 404)
    try:
        body = ScenarioBody.model_validate_json(await request.body())
    except ValidationError as exc:
        return _invalid(exc)
    if body.scenario not in scenarios_for(account.platform):
        return reply({"error": f"unknown scenario {body.scenario!r} for {account.platform}"}, 422)
    account.scenario, account.params, account.failures_served = body.scenario, body.params, 0
    return reply(account.public())


async def request_counts(request: Request) -> Response:
    platform = request.query_params.get("platform")
    account_id = request.query_params.get("platform_account_id")
    if platform and account_id:
        account_id = canonical_id(platform, account_id)
    rows = [
        {"platform": p, "platform_account_id": a, "endpoint": e, "count": n}
        for (p, a, e), n in sorted(store_of(request).requests.items())
        if (platform is None or p == platform) and (account_id is None or a == account_id)
    ]
    return reply({"requests": rows})


async def request_log(request: Request) -> Response:
    """Every counted request with its arrival time (unix seconds), oldest first."""
    platform = request.query_params.get("platform")
    account_id = request.query_params.get("platform_account_id")
    if platform and account_id:
        account_id = canonical_id(platform, account_id)
    try:
        since = float(request.query_params.get("since", "0"))
    except ValueError:
        return reply({"error": "since must be unix seconds"}, 422)
    rows = [
        {"at": at, "platform": p, "platform_account_id": a, "endpoint": e}
        for at, p, a, e in store_of(request).request_log
        if at >= since and (platform is None or p == platform) and (account_id is None or a == account_id)
    ]
    return reply({"requests": rows})


class OutageBody(BaseModel):
    platform: str
    seconds: float = Field(ge=0, le=86_400)

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if value not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}")
        return value


async def set_outage(request: Request) -> Response:
    try:
        body = OutageBody.model_validate_json(await request.body())
    except ValidationError as exc:
        return _invalid(exc)
    until = store_of(request).start_outage(body.platform, body.seconds)
    return reply({"platform": body.platform, "until": until if body.seconds > 0 else None})


async def reset(request: Request) -> Response:
    store_of(request).reset()
    return reply({"reset": True})


async def set_latency(request: Request) -> Response:
    """{"latency_ms"}: every call waits that long; or a distribution (simulator.latency)."""
    try:
        body = LatencyBody.model_validate_json(await request.body())
    except ValidationError as exc:
        return _invalid(exc)
    store = store_of(request)
    if body.latency_ms is not None:
        store.latency_ms, store.latency_distribution = body.latency_ms, None
        return reply({"latency_ms": body.latency_ms})
    store.latency_distribution = distribution = body.distribution()
    return reply({"distribution": distribution.public()})


async def set_budgets(request: Request) -> Response:
    """Enforce per-app and per-token budgets ("CALLS/SECONDS", simulator.quota)."""
    try:
        body = BudgetBody.model_validate_json(await request.body())
    except ValidationError as exc:
        return _invalid(exc)
    quota = store_of(request).quota
    for platform, scopes in body.budgets.items():
        for scope, budget in scopes.items():
            quota.configure(platform, scope, budget)
    return reply({"budgets": quota.public()})


async def get_budgets(request: Request) -> Response:
    """The budgets in force and, per platform, the API calls served and refused so far."""
    return reply({"budgets": store_of(request).quota.public(), "at": time.time()})


async def health(request: Request) -> Response:
    return reply(
        {
            "ok": True,
            "latency_ms": store_of(request).latency_ms,
            "latency_distribution": (
                d.public() if (d := store_of(request).latency_distribution) is not None else None
            ),
            "outages": {p: until for p, until in store_of(request).outages.items() if until > time.time()},
            "versions": {spec.name: spec.pinned.version for spec in platform_registry.PLATFORMS},
            "scenarios": {p: list(scenarios_for(p)) for p in PLATFORMS},
        }
    )


def routes() -> list[Route]:
    return [
        Route("/health", health),
        Route("/accounts", upsert_account, methods=["PUT", "POST"]),
        Route("/accounts", list_accounts, methods=["GET"]),
        Route("/accounts/{platform}/{account_id}", get_account),
        Route("/accounts/{platform}/{account_id}/scenario", set_scenario, methods=["PUT"]),
        Route("/requests", request_counts),
        Route("/request_log", request_log),
        Route("/outage", set_outage, methods=["PUT"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/latency", set_latency, methods=["PUT"]),
        Route("/budgets", set_budgets, methods=["PUT"]),
        Route("/budgets", get_budgets, methods=["GET"]),
    ]
