"""A wrong DRAVO_ENCRYPTION_KEY is caught at start, not by every sync failing
(docs/security.md, "Encryption key mistakes")."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models.admin import rotate_credentials
from models.crypto import TokenCipher
from models.key_check import CHECK_NAME, EncryptionKeyMismatch, check_encryption_key
from models.tables import Account, ServiceState
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.support.accounts import CIPHER, connect, new_workspace

OTHER_KEY = Fernet.generate_key().decode()


def check(factory: sessionmaker[Session], cipher: TokenCipher) -> str:
    with factory.begin() as session:
        return check_encryption_key(session, cipher).outcome


def test_first_start_writes_the_check_value_and_later_starts_verify_it(
    session_factory: sessionmaker[Session],
) -> None:
    assert check(session_factory, CIPHER) == "created"
    assert check(session_factory, CIPHER) == "verified"
    # A rotation in progress ("new,old") still reads it.
    assert check(session_factory, TokenCipher([OTHER_KEY, TEST_ENCRYPTION_KEY])) == "verified"
    with pytest.raises(EncryptionKeyMismatch, match="DRAVO_ENCRYPTION_KEY can't decrypt the key check value"):
        check(session_factory, TokenCipher([OTHER_KEY]))


def test_a_first_start_with_the_wrong_key_for_existing_credentials_writes_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    # A database from before the check: credentials, no check value.
    connect(session_factory, new_workspace(session_factory), "x", "42", "token-42")
    with pytest.raises(EncryptionKeyMismatch, match="account credentials"):
        check(session_factory, TokenCipher([OTHER_KEY]))
    with session_factory() as session:
        assert session.scalar(select(ServiceState).where(ServiceState.name == CHECK_NAME)) is None
    assert check(session_factory, CIPHER) == "created"


def test_damaged_credentials_are_no_evidence_about_the_key(session_factory: sessionmaker[Session]) -> None:
    account_id = connect(session_factory, new_workspace(session_factory), "x", "42", "token-42")
    with session_factory.begin() as session:
        session.execute(update(Account).where(Account.id == account_id).values(credentials=b"not-a-token"))
    # No key could read those bytes, so they say nothing about which key is configured.
    assert check(session_factory, TokenCipher([OTHER_KEY])) == "created"


def test_only_well_formed_tokens_of_another_key_are_foreign() -> None:
    assert CIPHER.is_foreign(TokenCipher([OTHER_KEY]).encrypt_text("x").encode())
    assert not CIPHER.is_foreign(CIPHER.encrypt_text("x").encode())
    for damaged in (b"", b"x", b"not-a-real-token", b"gAAAAAB" + b"A" * 20, b"\xff\xfe"):
        assert not CIPHER.is_foreign(damaged)


def test_keys_rotate_re_encrypts_the_check_value(session_factory: sessionmaker[Session]) -> None:
    connect(session_factory, new_workspace(session_factory), "x", "42", "token-42")
    assert check(session_factory, CIPHER) == "created"
    with session_factory.begin() as session:
        assert rotate_credentials(session, TokenCipher([OTHER_KEY, TEST_ENCRYPTION_KEY])) == 1
    # Once rotated, the old key may be dropped.
    assert check(session_factory, TokenCipher([OTHER_KEY])) == "verified"
    with pytest.raises(EncryptionKeyMismatch):
        check(session_factory, CIPHER)


@pytest.mark.parametrize("process", ["worker", "beat", "api"])
def test_processes_refuse_to_start_with_a_key_that_cant_read_the_check_value(
    process: str, test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    assert check(session_factory, CIPHER) == "created"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "from ops.cli import main; main()", process],
        env={**os.environ, **test_env, "DRAVO_ENCRYPTION_KEY": OTHER_KEY, "DRAVO_WORKER_PROCESSES": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert f"error: {process} not started: DRAVO_ENCRYPTION_KEY can't decrypt" in result.stderr
    assert OTHER_KEY not in result.stderr + result.stdout
    assert time.monotonic() - started < 30
