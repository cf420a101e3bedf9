"""The encryption key check: proof, at start, that DRAVO_ENCRYPTION_KEY opens the stored credentials.

A wrong key would otherwise show up only as every sync failing. The database keeps a check value,
a known text encrypted with the key in use (`service_state`, name `encryption_key_check`).
`worker`, `api` and `beat` decrypt it before they start and refuse to start if they can't.

The first process to start writes it. Before that, it tries the newest accounts' credentials, so a
database that has credentials but no check value yet (one upgraded from before the check) is not
sealed with a wrong key: a Fernet token none of our keys authenticates was written with another
key. (Bytes that are no Fernet token at all are damaged data, not evidence about the key; a sync
of that account reports its credentials unreadable.) `keys rotate` re-encrypts it with the other rows
(`models.admin.rotate_credentials`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.base import utcnow
from models.crypto import CredentialsUnreadable, TokenCipher
from models.tables import Account, ServiceState

CHECK_NAME = "encryption_key_check"
CHECK_TEXT = "dravo-sync encryption key check, version 1"
# How many of the newest credentials a first start tries before it writes the check value.
SAMPLE_SIZE = 5

WRONG_KEY = (
    "DRAVO_ENCRYPTION_KEY can't decrypt the {what} stored in the database: it does not hold the "
    "key the credentials were encrypted with. Set it to that key (during a rotation: "
    '"new,old"), then start again.'
)


class EncryptionKeyMismatch(CredentialsUnreadable):
    """The configured keys can't read what the database holds; the process must not start."""


@dataclass(frozen=True)
class KeyCheck:
    outcome: Literal["verified", "created"]


def _verify(cipher: TokenCipher, value: str) -> None:
    try:
        readable = cipher.decrypt_text(value) == CHECK_TEXT
    except CredentialsUnreadable:
        readable = False
    if not readable:
        raise EncryptionKeyMismatch(WRONG_KEY.format(what="key check value"))


def check_encryption_key(session: Session, cipher: TokenCipher) -> KeyCheck:
    """Verify the stored check value, or write it on a first start; raise EncryptionKeyMismatch."""
    stored = session.scalar(select(ServiceState.value).where(ServiceState.name == CHECK_NAME))
    if stored is not None:
        _verify(cipher, stored)
        return KeyCheck("verified")
    newest = session.scalars(
        select(Account.credentials).order_by(Account.connected_at.desc()).limit(SAMPLE_SIZE)
    ).all()
    if any(cipher.is_foreign(blob) for blob in newest):
        raise EncryptionKeyMismatch(WRONG_KEY.format(what="account credentials"))
    session.execute(
        insert(ServiceState)
        .values(name=CHECK_NAME, value=cipher.encrypt_text(CHECK_TEXT), updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=[ServiceState.name])
    )
    # Another process may have written it first, with its own key: that one counts.
    winner = session.scalar(select(ServiceState.value).where(ServiceState.name == CHECK_NAME))
    assert winner is not None
    _verify(cipher, winner)
    return KeyCheck("created")


def rotate_check_value(session: Session, cipher: TokenCipher) -> None:
    """Re-encrypt the check value with the first key (a no-op before the first start)."""
    row = session.get(ServiceState, CHECK_NAME, with_for_update=True)
    if row is None:
        return
    _verify(cipher, row.value)
    row.value = cipher.encrypt_text(CHECK_TEXT)
    row.updated_at = utcnow()
