"""Settings are validated at start-up with messages an operator can act on."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from ops.foundation.settings import ConfigurationError, load_settings

KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DRAVO_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)


def test_defaults_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAVO_ENV", "development")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/dravo"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.insights_window_days == 28
    assert settings.refresh_wait_seconds == 10
    assert settings.refresh_min_interval_seconds == 60
    assert settings.platform("x").api_base == "https://api.x.com"
    assert settings.platform("linkedin").oauth_base == "https://www.linkedin.com"
    assert settings.platform("tiktok").freshness_seconds == 6 * 3600
    assert not settings.platform("x").can_refresh_tokens
    assert settings.encryption_keys  # the public development key


def test_encryption_key_required_outside_development() -> None:
    with pytest.raises(ConfigurationError, match="DRAVO_ENCRYPTION_KEY is required outside development"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL: not a database URL"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL: must be a PostgreSQL URL"),
        ("DATABASE_URL", "postgresql://db", "DATABASE_URL: names no database"),
        ("REDIS_URL", "http://x", "REDIS_URL: must start with redis://"),
        (
            "DRAVO_ENCRYPTION_KEY",
            "short",
            "DRAVO_ENCRYPTION_KEY: each comma-separated key must be a Fernet key",
        ),
        ("DRAVO_INSIGHTS_WINDOW_DAYS", "31", "DRAVO_INSIGHTS_WINDOW_DAYS"),
        ("DRAVO_ENV", "staging", "DRAVO_ENV"),
    ],
)
def test_clear_errors(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv("DRAVO_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message) as error:
        load_settings()
    assert "\n" not in str(error.value)


def test_normalises_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAVO_ENCRYPTION_KEY", f"{KEY},{Fernet.generate_key().decode()}")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5433/prod")
    monkeypatch.setenv("DRAVO_ENV", "development")  # plain http (a local simulator) needs it
    monkeypatch.setenv("DRAVO_X_API_BASE", "http://127.0.0.1:8900/x/")
    monkeypatch.setenv("DRAVO_X_FRESHNESS_SECONDS", "3600")
    monkeypatch.setenv("DRAVO_X_CLIENT_ID", "cid")
    monkeypatch.setenv("DRAVO_X_CLIENT_SECRET", "csecret")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u:p@db:5433/prod"
    assert len(settings.encryption_keys) == 2 and settings.encryption_keys[0] == KEY
    x = settings.platform("x")
    assert x.api_base == "http://127.0.0.1:8900/x"
    assert x.freshness_seconds == 3600
    assert x.can_refresh_tokens
    assert "csecret" not in repr(x) and "csecret" not in repr(settings)


def test_short_jwt_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAVO_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("DRAVO_JWT_SECRET", "too-short")
    with pytest.raises(ConfigurationError, match="DRAVO_JWT_SECRET: must be at least 32 bytes"):
        load_settings()


@pytest.mark.parametrize(
    "name",
    [
        "DRAVO_INSTAGRAM_API_BASE",
        "DRAVO_FACEBOOK_API_BASE",
        "DRAVO_X_API_BASE",
        "DRAVO_LINKEDIN_API_BASE",
        "DRAVO_LINKEDIN_OAUTH_BASE",
        "DRAVO_TIKTOK_API_BASE",
    ],
)
@pytest.mark.parametrize("env", ["production", "test"])
def test_platform_base_urls_must_be_https_outside_development(
    monkeypatch: pytest.MonkeyPatch, name: str, env: str
) -> None:
    monkeypatch.setenv("DRAVO_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("DRAVO_ENV", env)
    monkeypatch.setenv(name, "http://127.0.0.1:8900/somewhere")
    with pytest.raises(ConfigurationError, match=f"{name}: must be https://"):
        load_settings()
    monkeypatch.setenv(name, "https://proxy.internal/somewhere")
    assert load_settings()
    monkeypatch.setenv("DRAVO_ENV", "development")
    monkeypatch.setenv(name, "http://127.0.0.1:8900/somewhere")
    assert load_settings()


@pytest.mark.parametrize("value", ["ftp://api.x.com", "api.x.com", "https://", "file:///etc/passwd"])
def test_platform_base_urls_must_be_absolute_web_urls(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DRAVO_ENV", "development")
    monkeypatch.setenv("DRAVO_X_API_BASE", value)
    with pytest.raises(ConfigurationError, match="DRAVO_X_API_BASE: must be an absolute https:// URL"):
        load_settings()
