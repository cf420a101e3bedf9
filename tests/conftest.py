"""Shared fixtures: a throw-away PostgreSQL database per test run, a Redis database, settings.

Tests talk to the real PostgreSQL and Redis named by DRAVO_TEST_ADMIN_DATABASE_URL (a database
we may create other databases from) and a private redis-server started for the run (or the Redis
named by DRAVO_TEST_REDIS_URL).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models import migrate
from models.apikeys import NewApiKey
from models.base import Base
from models.db import make_engine, make_session_factory
from ops.testing.processes import RedisServer, free_port

ADMIN_URL = os.environ.get(
    "DRAVO_TEST_ADMIN_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_private_redis: RedisServer | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Run the suite on a private redis-server, so concurrent runs (and the machine's own Redis
    users) can't flush or consume each other's queues. DRAVO_TEST_REDIS_URL opts out."""
    global _private_redis
    # `dravo-sync up` (and the CLI after it) keep a run file in the state directory: the suite's
    # own, so a test never overwrites or reads the developer's (ops.cli.command.state_dir).
    os.environ["DRAVO_STATE_DIR"] = tempfile.mkdtemp(prefix="dravo-test-state-")
    if "DRAVO_TEST_REDIS_URL" in os.environ or shutil.which("redis-server") is None:
        return
    _private_redis = RedisServer(
        port=free_port(), directory=Path(tempfile.mkdtemp(prefix="dravo-test-redis-"))
    )
    _private_redis.start()
    base = f"redis://127.0.0.1:{_private_redis.port}"
    os.environ["DRAVO_TEST_REDIS_URL"] = f"{base}/9"
    os.environ.setdefault("DRAVO_TEST_E2E_REDIS_URL", f"{base}/12")
    os.environ.setdefault("DRAVO_TEST_UP_REDIS_URL", f"{base}/11")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _private_redis is not None:
        _private_redis.stop()
        shutil.rmtree(_private_redis.directory, ignore_errors=True)


def redis_url() -> str:
    return os.environ.get("DRAVO_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


TEST_ENCRYPTION_KEY = "kQ3Ua1vDmR8bq9Jm0Vwq8tqXb1n3Wv6m7gAq5yQ2f3E="

# Every secret the suite hands to the processes it starts: none may appear in any of their logs
# (`ops.testing.processes` writes each child's output to a `.log` file under the run's temporary
# directory). API keys minted by the suite are added as they are minted; a test adds the others
# it creates (webhook secrets, platform tokens) with `remember_secret`.
SUITE_SECRETS: set[str] = {TEST_ENCRYPTION_KEY}


def remember_secret(value: str) -> None:
    SUITE_SECRETS.add(value)


def leaked_secrets(directory: Path, secrets_used: set[str]) -> list[str]:
    """`file: secret…` for every log file under `directory` that holds one of `secrets_used`."""
    found = []
    for log_file in sorted(directory.rglob("*.log")):
        text = log_file.read_text(errors="replace")
        found += [f"{log_file}: {s[:6]}…" for s in sorted(secrets_used) if s and s in text]
    return found


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_process_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the run, grep every child process's log for every secret the run used."""
    from models import admin, apikeys
    from tests.integration.api.seeding import JWT_SECRET

    SUITE_SECRETS.add(JWT_SECRET)

    def remembered() -> NewApiKey:
        new_key = apikeys.generate_key()
        remember_secret(new_key.key)
        return new_key

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(admin, "generate_key", remembered)
        yield
    leaks = leaked_secrets(tmp_path_factory.getbasetemp(), SUITE_SECRETS)
    if leaks:
        pytest.fail("secrets in process logs:\n" + "\n".join(leaks), pytrace=False)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database, migrated to head, dropped after the run."""
    name = f"dravo_test_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    yield db
    db.dispose()


def truncate_all(engine: Engine) -> None:
    # `platforms` is reference data written by the migrations (models.migrate), not test state.
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "platforms")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on an empty schema."""
    truncate_all(engine)
    return make_session_factory(engine)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url())
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def test_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for settings and subprocesses pointing at the test database and Redis."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url(),
        "DRAVO_ENV": "test",
        "DRAVO_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from ops.foundation.settings import get_settings

    get_settings.cache_clear()
    return env
