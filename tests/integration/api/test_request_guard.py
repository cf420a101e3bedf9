"""What every request passes before routing (api.guard), over a real socket: the body limit,
authentication before the body is read, NUL paths, request ids, and errors that log no secrets."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
import redis
import structlog
from sqlalchemy.orm import Session, sessionmaker

from api.asgi import create_app
from ops.foundation.logging import configure_logging
from tests.integration.api import seeding
from tests.integration.api.conftest import SettingsFactory, bearer
from tests.integration.api.server import serve
from tests.integration.api.test_management import Tenant

LIMIT = 4096


@pytest.fixture
def small_body_client(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[httpx.Client]:
    app = create_app(make_settings(DRAVO_API_MAX_BODY_BYTES=str(LIMIT)))
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


@pytest.fixture
def tenant(session_factory: sessionmaker[Session]) -> Tenant:
    return Tenant(session_factory, "guarded")


def _is_413(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {
        "error": {"code": "request_too_large", "message": f"Request body exceeds {LIMIT} bytes."}
    }
    assert response.headers["x-request-id"].startswith("req_")


def test_a_declared_oversized_body_is_413_before_reading(
    small_body_client: httpx.Client, tenant: Tenant
) -> None:
    big = b"{" + b" " * (LIMIT + 10) + b"}"
    _is_413(small_body_client.post("/v1/accounts", content=big, headers=tenant.manage))
    _is_413(small_body_client.post("/v1/webhooks", content=big, headers=tenant.manage))
    # Whoever sends it: the limit comes before authentication.
    _is_413(small_body_client.post("/v1/webhooks", content=big))


def test_a_chunked_oversized_body_is_413(small_body_client: httpx.Client, tenant: Tenant) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"url": "https://example.com/'
        for _ in range(10):
            yield b"a" * 1000

    for path in ("/v1/accounts", "/v1/webhooks"):
        response = small_body_client.post(path, content=chunks(), headers=tenant.manage)
        assert "content-length" not in response.request.headers  # chunked on the wire
        _is_413(response)
    # Under the limit, chunked, the body is served as usual.
    small = small_body_client.post("/v1/accounts", content=iter([b"{}"]), headers=tenant.manage)
    assert small.status_code == 422


def _raw_post(base_url: str, headers: str, first_chunk: bytes) -> bytes:
    """Send the headers and one chunk of a chunked body that never ends; read the answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(headers.encode() + f"{len(first_chunk):x}\r\n".encode() + first_chunk + b"\r\n")
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            received += data
        return received


def test_an_unauthenticated_body_is_401_without_being_read(small_body_client: httpx.Client) -> None:
    base = str(small_body_client.base_url).rstrip("/")
    headers = (
        "POST /v1/webhooks HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n{auth}\r\n"
    )
    for auth in ("", "Authorization: Bearer dra_" + "x" * 43 + "\r\n", "Authorization: Bearer not-a-jwt\r\n"):
        # The body has not ended (and never will): the answer can only come from the headers.
        answer = _raw_post(base, headers.format(auth=auth), b'{"url": "https://example.com/')
        status, _, rest = answer.partition(b"\r\n")
        assert status == b"HTTP/1.1 401 Unauthorized", answer
        assert b"connection: close" in rest.lower()
        assert b'"code":"unauthorized"' in rest


def test_a_nul_in_the_path_is_422_naming_the_parameter(client: httpx.Client, tenant: Tenant) -> None:
    for method in ("DELETE", "GET"):
        response = client.request(method, "/v1/webhooks/whe_%00", headers=tenant.manage)
        assert response.status_code in (405, 422), response.text
        if response.status_code == 422:
            assert response.json()["error"]["param"] == "endpoint_id"
    # A NUL in a query value is no 500 either.
    listed = client.get("/v1/analytics/accounts", params={"account_id": "acc_\x00"}, headers=tenant.read)
    assert listed.status_code < 500, listed.text


def test_every_answer_carries_a_request_id(client: httpx.Client, tenant: Tenant) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(3)}
    ids.add(client.get("/v1/analytics/accounts", headers=tenant.read).headers["x-request-id"])
    ids.add(client.post("/v1/accounts", json={}, headers=tenant.manage).headers["x-request-id"])
    assert len(ids) == 5 and all(i.startswith("req_") for i in ids)


@pytest.fixture
def process_log() -> Iterator[io.StringIO]:
    """Logging configured as `dravo-sync api` does (JSON), its stream kept for the test to read."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("INFO", json=True)
    stream = io.StringIO()
    handler = root.handlers[-1]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def test_a_500_logs_one_plain_traceback_and_no_secret(
    make_settings: SettingsFactory,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis,
    process_log: io.StringIO,
) -> None:
    ws = seeding.workspace(session_factory)
    app = create_app(make_settings())

    @app.get("/boom")
    async def boom() -> None:
        api_key = ws.api_key  # noqa: F841 (a local a traceback with locals would print)
        policy = app.state.dravo.jwt  # noqa: F841
        raise RuntimeError("boom")

    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        response = http.get("/boom")
        request_id = response.headers["x-request-id"]
        # Bad input by a tenant: a warning, not an error.
        bad = http.post("/v1/accounts", content=b"\x00not json", headers=bearer(ws.api_key))
    assert response.status_code == 500 and bad.status_code in (403, 422)
    log = process_log.getvalue()
    assert ws.api_key not in log and seeding.JWT_SECRET not in log
    errors = [line for line in log.splitlines() if '"level": "error"' in line]
    # One error line (no second copy from uvicorn), with the request id and a plain traceback.
    assert len(errors) == 1, log
    assert request_id in errors[0] and "RuntimeError: boom" in errors[0]
