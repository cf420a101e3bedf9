"""Secrets never render: not in a repr, not in a logged traceback's frames."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from cryptography.fernet import Fernet

from models.apikeys import generate_key
from models.auth import BearerCheck, check_bearer
from models.jwts import JwtPolicy
from models.webhook_admin import EndpointView, NewEndpoint
from ops.foundation.logging import configure_logging
from ops.foundation.settings import load_settings

JWT_SECRET = "jwt-secret-that-must-never-be-printed-0123456789"
PREVIOUS_SECRET = "previous-jwt-secret-never-printed-either-012345"


def test_jwt_policy_repr_hides_its_secrets() -> None:
    policy = JwtPolicy(secrets=(JWT_SECRET, PREVIOUS_SECRET), audience="dravo-api")
    for text in (repr(policy), str(policy), f"{policy!r}"):
        assert JWT_SECRET not in text and PREVIOUS_SECRET not in text
        assert "dravo-api" in text  # the rest stays useful


def test_bearer_check_and_new_key_reprs_hide_the_key() -> None:
    new_key = generate_key()
    check = check_bearer(new_key.key, None)
    assert isinstance(check, BearerCheck)
    assert new_key.key not in repr(check) and new_key.key not in repr(new_key)
    assert new_key.prefix in repr(new_key)


def test_new_webhook_endpoint_repr_hides_the_signing_secret() -> None:
    from datetime import UTC, datetime

    view = EndpointView(
        id="whe_1", url="https://example.com/h", events=(), enabled=True, disabled_reason=None,
        pending=0, created_at=datetime.now(UTC), workspace_id="ws_1", disabled_at=None,
        failed_in_row=0, last_success_at=None,
    )  # fmt: skip
    created = NewEndpoint(endpoint=view, secret="whsec_never_printed_0123456789")
    assert "whsec_never_printed" not in repr(created)


def test_settings_repr_hides_secrets_and_url_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("DRAVO_ENCRYPTION_KEY", key)
    monkeypatch.setenv("DRAVO_JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://dravo:pg-password-123@db:5432/dravo")
    monkeypatch.setenv("REDIS_URL", "redis://:redis-password-123@redis:6379/0")
    monkeypatch.setenv("DRAVO_FLOWER_PASSWORD", "flower-password-123")
    monkeypatch.setenv("DRAVO_X_CLIENT_SECRET", "x-client-secret-123")
    settings = load_settings()
    text = repr(settings) + str(settings) + repr(settings.platforms)
    for secret in (key, JWT_SECRET, "pg-password-123", "redis-password-123", "flower-password-123",
                   "x-client-secret-123"):  # fmt: skip
        assert secret not in text, secret


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def _fail_with_a_secret_in_a_local() -> None:
    api_key = "dra_local_variable_secret_0123456789abcdefghijk"  # noqa: F841 (the point of the test)
    policy = JwtPolicy(secrets=(JWT_SECRET,))  # noqa: F841
    raise RuntimeError("boom")


@pytest.mark.parametrize("json", [False, True])
def test_a_logged_traceback_shows_no_local_variables(
    restore_logging: None, capsys: pytest.CaptureFixture[str], json: bool
) -> None:
    configure_logging("INFO", json)
    for logger in (structlog.get_logger("dravo.test"), logging.getLogger("uvicorn.error")):
        try:
            _fail_with_a_secret_in_a_local()
        except RuntimeError as exc:
            if isinstance(logger, logging.Logger):
                logger.error("Exception in ASGI application", exc_info=exc)
            else:
                logger.error("test.failed", exc_info=exc)
    text = capsys.readouterr().err
    assert text.count("RuntimeError") >= 2  # both tracebacks were written, by our handler
    assert "_fail_with_a_secret_in_a_local" in text
    assert "dra_local_variable_secret" not in text and JWT_SECRET not in text


def test_the_end_of_run_log_scan_finds_a_leaked_secret(tmp_path: Path) -> None:
    from tests.conftest import leaked_secrets

    (tmp_path / "api-0.log").write_text("api.started\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "worker.log").write_text(f"oops {JWT_SECRET} here\n")
    (tmp_path / "notes.txt").write_text(JWT_SECRET)  # not a process log
    found = leaked_secrets(tmp_path, {JWT_SECRET, "absent-secret"})
    assert len(found) == 1 and "worker.log" in found[0] and JWT_SECRET not in found[0]
