"""The management API: manage keys only, their own workspace only, tokens never echoed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.dependencies import MANAGE_REQUIRED_MESSAGE
from models.admin import create_api_key, create_workspace
from models.crypto import TokenCipher
from models.tables import Account, AccountSync, MetricSnapshot
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.integration.api import seeding
from tests.integration.api.conftest import bearer

ACCESS = "IGQVJ-access-secret-123"
REFRESH = "refresh-secret-456"
BODY = {
    "platform": "instagram",
    "platform_account_id": "17841400000000001",
    "handle": "dravo",
    "auth": "facebook",
    "access_token": ACCESS,
    "refresh_token": REFRESH,
    "token_expires_at": "2027-01-30T00:00:00Z",
    "scopes": ["instagram_basic", "instagram_manage_insights"],
}


class Tenant:
    def __init__(self, factory: sessionmaker[Session], name: str) -> None:
        with factory.begin() as session:
            self.id = create_workspace(session, name)
            self.read = bearer(create_api_key(session, self.id).key)
            self.manage = bearer(create_api_key(session, self.id, "manage").key)
        self.jwt = bearer(seeding.dashboard_jwt(self.id))


@pytest.fixture
def tenants(session_factory: sessionmaker[Session]) -> tuple[Tenant, Tenant]:
    return Tenant(session_factory, "a"), Tenant(session_factory, "b")


def _no_secret(response: httpx.Response) -> None:
    assert ACCESS not in response.text and REFRESH not in response.text


def _counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Account)) or 0,
            session.scalar(select(func.count()).select_from(AccountSync)) or 0,
        )


def test_connect_get_reconnect_disconnect(
    client: httpx.Client, tenants: tuple[Tenant, Tenant], session_factory: sessionmaker[Session]
) -> None:
    a, _ = tenants
    created = client.post("/v1/accounts", json=BODY, headers=a.manage)
    assert created.status_code == 201, created.text
    _no_secret(created)
    record = created.json()
    account_id = record["account_id"]
    assert created.headers["location"] == f"/v1/accounts/{account_id}"
    assert record == {
        "account_id": account_id,
        "platform": "instagram",
        "platform_account_id": "17841400000000001",
        "handle": "dravo",
        "auth": "facebook",
        "scopes": ["instagram_basic", "instagram_manage_insights"],
        "token_expires_at": "2027-01-30T00:00:00Z",
        "connected_at": record["connected_at"],
        "reconnected_at": None,
        "sync_status": "pending",
        "last_updated_at": None,
        "next_sync_at": record["next_sync_at"],
    }
    with session_factory() as session:
        stored = session.get_one(Account, account_id)
        assert stored.workspace_id == a.id
        assert TokenCipher([TEST_ENCRYPTION_KEY]).decrypt(stored.credentials).access_token == ACCESS

    fetched = client.get(f"/v1/accounts/{account_id}", headers=a.manage)
    assert fetched.status_code == 200 and fetched.json() == record
    _no_secret(fetched)
    listed = client.get("/v1/analytics/accounts", headers=a.read).json()
    assert [item["account_id"] for item in listed["items"]] == [account_id]

    again = client.post("/v1/accounts", json={**BODY, "access_token": "new-token"}, headers=a.manage)
    assert again.status_code == 200 and again.json()["account_id"] == account_id
    assert again.json()["reconnected_at"] is not None

    seeding.snapshot(session_factory, account_id, seeding.SEED_TIME, {"follower_count": 1})
    gone = client.delete(f"/v1/accounts/{account_id}", headers=a.manage)
    assert gone.status_code == 200
    assert gone.json() | {"disconnected_at": None} == {
        "account_id": account_id,
        "disconnected_at": None,
        "already_disconnected": False,
        "sync_stopped": False,
        "credentials_erased": True,
        "snapshots_deleted": 0,
    }
    assert client.get(f"/v1/accounts/{account_id}", headers=a.manage).status_code == 404
    assert client.get("/v1/analytics/accounts", headers=a.read).json()["items"] == []
    assert client.get(f"/v1/analytics/accounts/{account_id}/history", headers=a.read).status_code == 404
    twice = client.delete(f"/v1/accounts/{account_id}?purge_history=true", headers=a.manage)
    assert twice.status_code == 200
    assert twice.json()["already_disconnected"] is True and twice.json()["snapshots_deleted"] == 1
    with session_factory() as session:
        assert session.get_one(Account, account_id).credentials == b""
        assert session.scalar(select(func.count()).select_from(MetricSnapshot)) == 0

    back = client.post("/v1/accounts", json=BODY, headers=a.manage)
    assert back.status_code == 200 and back.json()["account_id"] == account_id
    assert back.json()["sync_status"] == "pending" and back.json()["next_sync_at"] is not None
    assert client.get(f"/v1/accounts/{account_id}", headers=a.manage).status_code == 200


def test_read_keys_and_jwts_are_403(client: httpx.Client, tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = tenants
    account_id = client.post("/v1/accounts", json=BODY, headers=a.manage).json()["account_id"]
    forbidden = {"error": {"code": "forbidden", "message": MANAGE_REQUIRED_MESSAGE}}
    for headers in (a.read, a.jwt):
        for response in (
            client.post("/v1/accounts", json=BODY, headers=headers),
            client.get(f"/v1/accounts/{account_id}", headers=headers),
            client.delete(f"/v1/accounts/{account_id}", headers=headers),
        ):
            assert response.status_code == 403 and response.json() == forbidden
    assert client.get(f"/v1/accounts/{account_id}", headers=a.manage).status_code == 200
    assert client.post("/v1/accounts", json=BODY).status_code == 401


def test_another_workspace_is_404(
    client: httpx.Client, tenants: tuple[Tenant, Tenant], session_factory: sessionmaker[Session]
) -> None:
    a, b = tenants
    of_a = client.post("/v1/accounts", json=BODY, headers=a.manage).json()["account_id"]
    # The same platform account connected by b is b's own account, not a's.
    of_b = client.post("/v1/accounts", json=BODY, headers=b.manage).json()["account_id"]
    assert of_a != of_b
    not_found = {"error": {"code": "not_found", "message": "No such account in this workspace."}}
    for response in (
        client.get(f"/v1/accounts/{of_a}", headers=b.manage),
        client.delete(f"/v1/accounts/{of_a}", headers=b.manage),
        client.get("/v1/accounts/acc_unknown", headers=b.manage),
        client.delete("/v1/accounts/acc_unknown", headers=b.manage),
    ):
        assert response.status_code == 404 and response.json() == not_found
    assert client.get(f"/v1/accounts/{of_a}", headers=a.manage).status_code == 200
    with session_factory() as session:
        assert session.get_one(Account, of_a).disconnected_at is None
    assert [
        i["account_id"] for i in client.get("/v1/analytics/accounts", headers=b.read).json()["items"]
    ] == [of_b]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"platform": "myspace"}, "platform"),
        ({"platform": None}, "platform"),
        ({"platform_account_id": ""}, "platform_account_id"),
        ({"platform": "linkedin", "platform_account_id": "acme", "auth": None}, "platform_account_id"),
        ({"auth": "google"}, "auth"),
        ({"platform": "x", "auth": "facebook"}, "auth"),
        ({"access_token": ""}, "access_token"),
        ({"access_token": 42}, "access_token"),
        ({"access_token": "x" * 5000}, "access_token"),
        ({"access_token": "tok\u0000en"}, "access_token"),
        ({"handle": "nul\u0000"}, "handle"),
        ({"token_expires_at": "next tuesday"}, "token_expires_at"),
        ({"token_expires_at": 1700000000}, "token_expires_at"),
        ({"scopes": "not, a, list"}, "scopes"),  # a list (import files may give one string)
        ({"scopes": ["ok", "   "]}, "scopes.1"),
        ({"access_token": "   "}, "access_token"),
        ({"platform_account_id": "\t"}, "platform_account_id"),
        ({"refresh_token": ""}, "refresh_token"),
        ({"scopes": [1, 2]}, "scopes.0"),
        ({"workspace_id": "ws_other"}, "workspace_id"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(
    client: httpx.Client,
    tenants: tuple[Tenant, Tenant],
    session_factory: sessionmaker[Session],
    change: dict[str, Any],
    field: str | None,
) -> None:
    a, _ = tenants
    response = client.post("/v1/accounts", json={**BODY, **change}, headers=a.manage)
    if field is None:
        assert response.status_code == 201
        return
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["param"] == field
    _no_secret(response)
    assert _counts(session_factory) == (0, 0)


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b"null", b'"text"', b'{"platform": "x"}', b'{"handle": "\\ud800"}', b"\xff\xfe{"],
)
def test_unreadable_bodies_are_422(
    client: httpx.Client,
    tenants: tuple[Tenant, Tenant],
    session_factory: sessionmaker[Session],
    content: bytes,
) -> None:
    a, _ = tenants
    headers = {**a.manage, "Content-Type": "application/json"}
    response = client.post("/v1/accounts", content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["param"] in ("body", "platform_account_id", "access_token")
    assert _counts(session_factory) == (0, 0)


def test_wrong_methods_name_the_right_ones(client: httpx.Client, tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = tenants
    for method in ("PUT", "PATCH", "POST", "OPTIONS"):
        response = client.request(method, "/v1/accounts/acc_x", headers=a.manage)
        assert response.status_code == 405 and response.headers["allow"] == "GET, DELETE"
        assert response.json()["error"]["code"] == "method_not_allowed"
    assert client.put("/v1/accounts", headers=a.manage).headers["allow"] == "POST"


def test_lone_surrogate_is_refused(
    client: httpx.Client, tenants: tuple[Tenant, Tenant], session_factory: sessionmaker[Session]
) -> None:
    a, _ = tenants
    content = b'{"platform":"x","platform_account_id":"1","access_token":"t","handle":"\\ud800"}'
    response = client.post(
        "/v1/accounts", content=content, headers={**a.manage, "Content-Type": "application/json"}
    )
    # Not text at all (a lone surrogate escape): the body as a whole is refused.
    assert response.status_code == 422 and response.json()["error"]["param"] == "body"
    assert _counts(session_factory) == (0, 0)


def test_in_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/accounts"]) == {"post"}
    assert set(paths["/v1/accounts/{account_id}"]) == {"get", "delete"}
    responses = set(paths["/v1/accounts"]["post"]["responses"])
    assert responses == {"200", "201", "401", "403", "413", "422", "429", "431", "500", "503"}
