"""Request dependencies: the process state and the authenticated workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Unauthorized
from api.state import AppState
from models.auth import record_key_use, resolve_bearer
from models.base import utcnow
from models.read_models import Principal

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="dra_… API key or HS256 JWT",
    description="A Dravo API key (`dra_…`) or a dashboard JWT (HS256, claims `workspace_id` and `exp`).",
)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.dravo
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_principal(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The workspace the bearer token acts for; 401 for anything else. Runs in the threadpool."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    secret = state.settings.jwt_secret
    with state.read_sessions() as session:
        principal = resolve_bearer(
            session, credentials.credentials.strip(), secret.get_secret_value() if secret else None
        )
    if principal is None:
        raise Unauthorized()
    if principal.api_key_id is not None and state.key_use.due(principal.api_key_id):
        # The one write of the API, at most once a minute per key and process.
        with state.write_sessions.begin() as session:
            record_key_use(session, principal.api_key_id, utcnow())
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
