"""Request dependencies: each handler asks for the narrow parts of the process it uses (the reads,
the writes, the on-demand refresh and its limits...), the authenticated workspace and its scope.

As the FastAPI full-stack template's `SessionDep`/`CurrentUser`
(https://github.com/fastapi/full-stack-fastapi-template, `backend/app/api/deps.py`): one
`Annotated[X, Depends(get_x)]` alias per part; the process state (`api.state.AppState`) stays
behind them. All are `async def`: FastAPI would run a plain `def` dependency in its threadpool, one
thread hop each. Authentication needs the database only for API keys and JWT workspaces, and then
takes one statement on the read pool (`api.reads`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Forbidden, Unauthorized
from api.gauges import FreshnessGauges
from api.reads import ApiReads, KeyUseRecorder
from api.state import AppState, OnDemandRefresh, Readiness
from api.writes import ApiWrites
from models.auth import BearerCheck, JwtPolicy, check_bearer
from models.read_models import Principal
from ops.foundation.settings import Settings

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="dra_… API key or HS256 JWT",
    description="A Dravo API key (`dra_…`) or a dashboard JWT (HS256, claims `workspace_id` and `exp`).",
)


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.dravo
    return state


async def get_reads(request: Request) -> ApiReads:
    return _state(request).reads


async def get_writes(request: Request) -> ApiWrites:
    return _state(request).writes


async def get_refresh(request: Request) -> OnDemandRefresh:
    return _state(request).on_demand


async def get_public_url(request: Request) -> str:
    """DRAVO_PUBLIC_URL ("" when unset: links are relative)."""
    return _state(request).settings.public_url or ""


async def get_readiness(request: Request) -> Readiness:
    return _state(request).readiness


async def get_settings(request: Request) -> Settings:
    return _state(request).settings


async def get_gauges(request: Request) -> FreshnessGauges:
    return _state(request).gauges


ReadsDep = Annotated[ApiReads, Depends(get_reads)]
WritesDep = Annotated[ApiWrites, Depends(get_writes)]
RefreshDep = Annotated[OnDemandRefresh, Depends(get_refresh)]
PublicUrlDep = Annotated[str, Depends(get_public_url)]
ReadinessDep = Annotated[Readiness, Depends(get_readiness)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
GaugesDep = Annotated[FreshnessGauges, Depends(get_gauges)]


async def authenticate(
    reads: ApiReads, key_uses: KeyUseRecorder, jwt: JwtPolicy | None, token: str | None
) -> Principal:
    """The workspace a bearer token acts for; Unauthorized for anything else."""
    if not token:
        raise Unauthorized()
    # Shape, signature and expiry need no database; a token failing them costs no thread hop.
    check: BearerCheck | None = check_bearer(token.strip(), jwt)
    if check is None:
        raise Unauthorized()
    principal = await reads.principal(check)
    if principal is None:
        raise Unauthorized()
    if principal.api_key_id is not None:
        await key_uses.record(principal.api_key_id)
    return principal


async def authenticate_request(state: AppState, token: str | None) -> Principal:
    """`authenticate` with the process's reads, key-use bookkeeping and JWT policy."""
    return await authenticate(state.reads, state.key_uses, state.jwt, token)


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The workspace the bearer token acts for; 401 for anything else. A request with a body was
    authenticated before its body was read (api.guard): that principal is used."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    token = None if credentials is None else credentials.credentials
    return await authenticate_request(_state(request), token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


MANAGE_REQUIRED_MESSAGE = "This route needs an API key with the 'manage' scope."


async def require_manage(principal: PrincipalDep) -> Principal:
    """The principal of a `manage` API key; 403 for a `read` key or a dashboard JWT (read-only)."""
    if not principal.can_manage:
        raise Forbidden(MANAGE_REQUIRED_MESSAGE)
    return principal


ManagerDep = Annotated[Principal, Depends(require_manage)]
