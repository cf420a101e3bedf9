"""Request dependencies: the process state, the authenticated workspace and its scope.

Both are `async def`: FastAPI would run a plain `def` dependency in its threadpool, one thread hop
each. Authentication needs the database only for API keys and JWT workspaces, and then takes one
statement on the async read pool (`api.reads`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Forbidden, Unauthorized
from api.state import AppState
from models.auth import BearerCheck, check_bearer
from models.read_models import Principal

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="dra_… API key or HS256 JWT",
    description="A Dravo API key (`dra_…`) or a dashboard JWT (HS256, claims `workspace_id` and `exp`).",
)


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.dravo
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def authenticate(state: AppState, token: str | None) -> Principal:
    """The workspace a bearer token acts for; Unauthorized for anything else."""
    if not token:
        raise Unauthorized()
    # Shape, signature and expiry need no database; a token failing them costs no thread hop.
    check: BearerCheck | None = check_bearer(token.strip(), state.jwt)
    if check is None:
        raise Unauthorized()
    principal = await state.reads.principal(check)
    if principal is None:
        raise Unauthorized()
    if principal.api_key_id is not None:
        await state.key_uses.record(principal.api_key_id)
    return principal


async def get_principal(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The workspace the bearer token acts for; 401 for anything else. A request with a body was
    authenticated before its body was read (api.guard): that principal is used."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    return await authenticate(state, None if credentials is None else credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


MANAGE_REQUIRED_MESSAGE = "This route needs an API key with the 'manage' scope."


async def require_manage(principal: PrincipalDep) -> Principal:
    """The principal of a `manage` API key; 403 for a `read` key or a dashboard JWT (read-only)."""
    if not principal.can_manage:
        raise Forbidden(MANAGE_REQUIRED_MESSAGE)
    return principal


ManagerDep = Annotated[Principal, Depends(require_manage)]
