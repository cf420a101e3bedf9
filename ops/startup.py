"""Checks a long-lived process (`worker`, `api`, `beat`) makes before it starts serving."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import OperationalError

from models.crypto import TokenCipher
from models.db import make_engine, make_session_factory
from models.key_check import EncryptionKeyMismatch, check_encryption_key
from ops.foundation.settings import Settings

log = structlog.get_logger()


class StartupRefused(Exception):
    """The process must not start; the message says why and what to do."""


def require_readable_credentials(settings: Settings, process: str) -> None:
    """Decrypt the stored key check value (writing it on a first start), or refuse to start.

    A database that can't be reached skips the check, with a warning: the API must come up and
    answer 503 while the database is down, and the worker waits for it; neither decrypts anything
    until the database is back.
    """
    # The process's own role (models/roles.py): the API's write role, or the worker's.
    database_url = settings.api_write_url if process == "api" else settings.worker_url
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with make_session_factory(engine).begin() as session:
            check = check_encryption_key(session, TokenCipher(settings.encryption_keys))
    except EncryptionKeyMismatch as exc:
        log.error("startup.encryption_key_mismatch", process=process)
        raise StartupRefused(f"{process} not started: {exc}") from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        log.warning("startup.encryption_key_unchecked", process=process, reason=reason)
        return
    finally:
        engine.dispose()
    log.info("startup.encryption_key_checked", process=process, outcome=check.outcome)
