"""Every way to be refused (one 401 body), and no way to see another workspace's accounts."""

from __future__ import annotations

import base64
import itertools
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from models.admin import revoke_api_key
from models.apikeys import visible_prefix
from tests.integration.api import seeding
from tests.integration.api.conftest import bearer
from worker.names import refresh_lock_key

URL = "/v1/analytics/accounts"
UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "Missing or invalid API key / JWT."}}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.fixture
def ws(session_factory: sessionmaker[Session]) -> seeding.SeededWorkspace:
    workspace = seeding.workspace(session_factory)
    seeding.seed_example(session_factory, workspace.id)
    return workspace


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer dra_" + "a" * 43 + " extra"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Token dra_" + "a" * 43},
        {"Authorization": "Bearer dra_" + "a" * 43},  # well-formed, unknown
        {"Authorization": "Bearer dra_short"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer a.b.c"},
    ],
)
def test_missing_or_malformed(
    client: httpx.Client, ws: seeding.SeededWorkspace, headers: dict[str, str]
) -> None:
    _assert_401(client.get(URL, headers=headers))


def test_wrong_key_with_a_real_prefix(client: httpx.Client, ws: seeding.SeededWorkspace) -> None:
    forged = visible_prefix(ws.api_key) + "x" * (len(ws.api_key) - len(visible_prefix(ws.api_key)))
    _assert_401(client.get(URL, headers=bearer(forged)))


def test_revoked_key(
    client: httpx.Client, ws: seeding.SeededWorkspace, session_factory: sessionmaker[Session]
) -> None:
    assert client.get(URL, headers=bearer(ws.api_key)).status_code == 200
    with session_factory.begin() as session:
        revoke_api_key(session, visible_prefix(ws.api_key))
    _assert_401(client.get(URL, headers=bearer(ws.api_key)))


def test_valid_jwt(client: httpx.Client, ws: seeding.SeededWorkspace) -> None:
    response = client.get(URL, headers=bearer(seeding.dashboard_jwt(ws.id)))
    assert response.status_code == 200 and response.json()["total"] == 2


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda ws: seeding.dashboard_jwt(ws, expires_in=-30), id="expired"),
        pytest.param(
            lambda ws: seeding.make_jwt(
                {"workspace_id": ws, "exp": int(time.time()) + 60},
                secret="another-secret-of-sufficient-length-for-any-hmac-0123456789abcdef",
            ),
            id="wrong-secret",
        ),
        pytest.param(lambda ws: seeding.make_jwt({"workspace_id": ws}), id="missing-exp"),
        pytest.param(
            lambda ws: seeding.make_jwt({"sub": "u", "exp": int(time.time()) + 60}), id="missing-workspace"
        ),
        pytest.param(
            lambda ws: seeding.make_jwt({"workspace_id": "", "exp": int(time.time()) + 60}),
            id="empty-workspace",
        ),
        pytest.param(
            lambda ws: seeding.make_jwt({"workspace_id": [ws], "exp": int(time.time()) + 60}),
            id="list-workspace",
        ),
        pytest.param(lambda ws: seeding.make_jwt({"workspace_id": ws, "exp": "soon"}), id="bad-exp"),
        pytest.param(lambda ws: seeding.dashboard_jwt("ws_unknown"), id="unknown-workspace"),
        pytest.param(
            lambda ws: seeding.make_jwt(
                {"workspace_id": ws, "exp": int(time.time()) + 60}, algorithm="HS512"
            ),
            id="hs512",
        ),
        pytest.param(
            lambda ws: (
                _b64({"alg": "none", "typ": "JWT"})
                + "."
                + _b64({"workspace_id": ws, "exp": int(time.time()) + 60})
                + "."
            ),
            id="alg-none",
        ),
        pytest.param(
            lambda ws: (
                _b64({"alg": "none", "typ": "JWT"})
                + "."
                + _b64({"workspace_id": ws, "exp": int(time.time()) + 60})
                + ".c2ln"
            ),
            id="alg-none-sig",
        ),
    ],
)
def test_bad_jwts(client: httpx.Client, ws: seeding.SeededWorkspace, make_token: Any) -> None:
    _assert_401(client.get(URL, headers=bearer(make_token(ws.id))))


def test_jwt_refused_without_a_secret(
    make_settings: Any,
    session_factory: sessionmaker[Session],
    redis_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.asgi import create_app
    from tests.integration.api.server import serve

    settings = make_settings()
    ws = seeding.workspace(session_factory)
    monkeypatch.setenv("DRAVO_JWT_SECRET", "")
    from ops.foundation.settings import load_settings

    no_secret = load_settings()
    assert no_secret.jwt_secret is None or not no_secret.jwt_secret.get_secret_value()
    assert settings.jwt_secret is not None
    with serve(create_app(no_secret)) as base, httpx.Client(base_url=base) as http:
        _assert_401(http.get(URL, headers=bearer(seeding.dashboard_jwt(ws.id))))
        assert http.get(URL, headers=bearer(ws.api_key)).status_code == 200


def test_no_leak_across_workspaces(client: httpx.Client, session_factory: sessionmaker[Session]) -> None:
    a = seeding.workspace(session_factory, "a")
    b = seeding.workspace(session_factory, "b")
    t = seeding.SEED_TIME
    owned: dict[str, set[str]] = {a.id: set(), b.id: set()}
    # The id filter below also tries None: the loop variables are typed for both loops.
    account_id: str | None
    platform: str | None
    for n, (owner, platform) in enumerate(itertools.product((a, b), ("x", "facebook", "tiktok"))):
        account_id = f"acc_{owner.id[-4:]}_{platform}"
        # Same platform account ids in both workspaces: a filter can't pick the other's by native id.
        seeding.account(
            session_factory,
            owner.id,
            account_id,
            platform,
            created_at=t + timedelta(seconds=n),
            platform_account_id=f"native-{platform}",
            metrics={"followers_count": n},
        )
        owned[owner.id].add(account_id)
    all_ids = sorted(owned[a.id] | owned[b.id])
    for owner, token in itertools.product((a, b), ("key", "jwt")):
        secret = owner.api_key if token == "key" else seeding.dashboard_jwt(owner.id)
        for account_id, platform, limit in itertools.product(
            [None, *all_ids], [None, "x", "facebook", "tiktok", "linkedin"], [None, 1, 100]
        ):
            params = {
                k: v
                for k, v in {"accountId": account_id, "platform": platform, "limit": limit}.items()
                if v is not None
            }
            body = client.get(URL, params=params, headers=bearer(secret)).json()
            seen = {item["account_id"] for item in body["items"]}
            assert seen <= owned[owner.id], (owner.id, params)
            if account_id in owned[owner.id] and platform in (None, account_id.rsplit("_", 1)[1]):
                assert seen == {account_id}
            target = account_id or all_ids[0]
            hist = client.get(f"{URL}/{target}/history", headers=bearer(secret))
            assert hist.status_code == (200 if target in owned[owner.id] else 404)


def test_refresh_never_touches_another_workspace(
    client: httpx.Client, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    a = seeding.workspace(session_factory, "a")
    b = seeding.workspace(session_factory, "b")
    seeding.account(session_factory, b.id, "acc_of_b", "x", created_at=seeding.SEED_TIME)
    body = client.get(
        URL, params={"accountId": "acc_of_b", "refresh": "true"}, headers=bearer(a.api_key)
    ).json()
    assert body == {"items": [], "total": 0, "next_cursor": None}
    assert redis_client.exists(refresh_lock_key("acc_of_b")) == 0
