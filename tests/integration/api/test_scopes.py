"""API key scopes: `read` (the default) and `manage`; dashboard JWTs are always read-only."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.asgi import create_app
from api.dependencies import MANAGE_REQUIRED_MESSAGE, ManagerDep
from models.admin import AdminError, create_api_key, create_workspace
from models.auth import resolve_bearer
from models.tables import ApiKey
from tests.integration.api import seeding
from tests.integration.api.conftest import SettingsFactory, bearer
from tests.integration.api.server import serve

FORBIDDEN = {"error": {"code": "forbidden", "message": MANAGE_REQUIRED_MESSAGE}}


@pytest.fixture
def guarded(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: object
) -> Iterator[httpx.Client]:
    """The real app plus one route behind `require_manage`, so the dependency is tested alone."""
    app = create_app(make_settings())

    @app.get("/scope-probe")
    async def probe(principal: ManagerDep) -> dict[str, str]:
        return {"workspace_id": principal.workspace_id, "scope": principal.scope}

    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def test_keys_are_read_by_default(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ws = create_workspace(session, "a")
        read_key = create_api_key(session, ws).key
        manage_key = create_api_key(session, ws, "manage").key
    with session_factory() as session:
        assert sorted(session.query(ApiKey.scope).all()) == [("manage",), ("read",)]
        read = resolve_bearer(session, read_key, seeding.JWT_SECRET)
        manage = resolve_bearer(session, manage_key, seeding.JWT_SECRET)
        jwt = resolve_bearer(session, seeding.dashboard_jwt(ws), seeding.JWT_SECRET)
    assert read is not None and read.scope == "read" and not read.can_manage
    assert manage is not None and manage.scope == "manage" and manage.can_manage
    assert jwt is not None and jwt.scope == "read" and not jwt.can_manage


def test_unknown_scope_is_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ws = create_workspace(session, "a")
        with pytest.raises(AdminError, match="unknown scope"):
            create_api_key(session, ws, "admin")


def test_require_manage(guarded: httpx.Client, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ws = create_workspace(session, "a")
        read_key = create_api_key(session, ws).key
        manage_key = create_api_key(session, ws, "manage").key

    ok = guarded.get("/scope-probe", headers=bearer(manage_key))
    assert ok.status_code == 200 and ok.json() == {"workspace_id": ws, "scope": "manage"}
    for token in (read_key, seeding.dashboard_jwt(ws)):
        refused = guarded.get("/scope-probe", headers=bearer(token))
        assert refused.status_code == 403 and refused.json() == FORBIDDEN
    # No token at all is still 401, not 403: authentication comes first.
    assert guarded.get("/scope-probe").status_code == 401


def test_both_scopes_read_analytics(guarded: httpx.Client, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ws = create_workspace(session, "a")
        keys = [create_api_key(session, ws, scope).key for scope in ("read", "manage")]
    for key in keys:
        assert guarded.get("/v1/analytics/accounts", headers=bearer(key)).json() == {
            "items": [],
            "total": 0,
            "next_cursor": None,
        }
