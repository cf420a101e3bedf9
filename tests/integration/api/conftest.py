"""An API app on the test database and Redis, served by uvicorn in a thread over a real socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from api.asgi import create_app
from ops.foundation.settings import Settings, load_settings
from tests.integration.api import seeding
from tests.integration.api.server import serve

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> SettingsFactory:
    """Settings from the test environment plus overrides given as DRAVO_/env variable names."""

    def build(**env: str) -> Settings:
        monkeypatch.setenv("DRAVO_JWT_SECRET", seeding.JWT_SECRET)
        monkeypatch.setenv("DRAVO_REFRESH_WAIT_SECONDS", "0")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings()

    return build


@pytest.fixture
def client(
    make_settings: SettingsFactory, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[httpx.Client]:
    with serve(create_app(make_settings())) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
