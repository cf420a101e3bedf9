"""The role URLs fall back to DATABASE_URL, and Docker secrets (DRAVO_SECRETS_DIR) fill settings
below the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.foundation.settings import ConfigurationError, load_settings

KEY = "kQ3Ua1vDmR8bq9Jm0Vwq8tqXb1n3Wv6m7gAq5yQ2f3E="
OWNER = "postgresql+psycopg://owner@db.internal:5432/dravo"


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", "DRAVO_API_READ_DATABASE_URL", "DRAVO_API_WRITE_DATABASE_URL",
                 "DRAVO_WORKER_DATABASE_URL", "DRAVO_SECRETS_DIR", "DRAVO_ENCRYPTION_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DRAVO_ENV", "test")
    monkeypatch.setenv("DRAVO_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("DATABASE_URL", OWNER)
    return monkeypatch


def test_each_process_falls_back_to_database_url(clean: pytest.MonkeyPatch) -> None:
    config = load_settings()
    assert config.api_read_url == config.api_write_url == config.worker_url == OWNER
    clean.setenv("DRAVO_WORKER_DATABASE_URL", "postgresql://dravo_worker@db.internal/dravo")
    clean.setenv("DRAVO_API_READ_DATABASE_URL", "")  # empty: unset
    config = load_settings()
    assert config.worker_url == "postgresql+psycopg://dravo_worker@db.internal/dravo"
    assert config.api_read_url == OWNER


def test_a_role_url_is_checked_like_database_url(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("DRAVO_API_WRITE_DATABASE_URL", "mysql://x@h/db")
    with pytest.raises(ConfigurationError, match="DRAVO_API_WRITE_DATABASE_URL: must be a PostgreSQL URL"):
        load_settings()


def test_docker_secrets_fill_settings_below_the_environment(
    clean: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean.delenv("DRAVO_ENCRYPTION_KEY")
    (tmp_path / "DRAVO_ENCRYPTION_KEY").write_text(KEY + "\n")  # as `echo` writes it
    (tmp_path / "DRAVO_WORKER_DATABASE_URL").write_text("postgresql://w:secret@db.internal/dravo\n")
    (tmp_path / "DATABASE_URL").write_text("postgresql://from-file@db.internal/dravo\n")
    clean.setenv("DRAVO_SECRETS_DIR", str(tmp_path))
    config = load_settings()
    assert config.encryption_keys == [KEY]
    assert config.worker_url == "postgresql+psycopg://w:secret@db.internal/dravo"
    assert config.database_url == OWNER  # the environment wins over a file
