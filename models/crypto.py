"""Platform credentials encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

Several keys may be configured (DRAVO_ENCRYPTION_KEY="new,old"): the first encrypts, every key
decrypts, so keys rotate without downtime (`dravo-sync keys rotate` re-encrypts every row).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from adapters.base import Credentials


class CredentialsUnreadable(Exception):
    """Stored credentials can't be decrypted with the configured keys."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class TokenCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, credentials: Credentials) -> bytes:
        payload = {
            "access_token": credentials.access_token,
            "refresh_token": credentials.refresh_token,
            "expires_at": _iso(credentials.expires_at),
            "refresh_expires_at": _iso(credentials.refresh_expires_at),
            "scopes": list(credentials.scopes),
        }
        return self._fernet.encrypt(json.dumps(payload).encode())

    def decrypt(self, blob: bytes) -> Credentials:
        try:
            payload = json.loads(self._fernet.decrypt(bytes(blob)))
        except InvalidToken:
            raise CredentialsUnreadable(
                "stored credentials can't be decrypted: DRAVO_ENCRYPTION_KEY does not hold the key "
                "they were encrypted with"
            ) from None
        return Credentials(
            access_token=payload["access_token"],
            refresh_token=payload.get("refresh_token"),
            expires_at=_parse(payload.get("expires_at")),
            refresh_expires_at=_parse(payload.get("refresh_expires_at")),
            scopes=tuple(payload.get("scopes") or ()),
        )

    def encrypt_text(self, value: str) -> str:
        """A Fernet token (ASCII) of `value`, with the first key: for the key check value."""
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt_text(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise CredentialsUnreadable("value can't be decrypted with any configured key") from None

    def is_foreign(self, blob: bytes) -> bool:
        """A well-formed Fernet token that none of our keys authenticates: proof of another key.

        (Bytes that are no Fernet token at all are damaged data, which no key would read.)
        """
        try:
            raw = base64.urlsafe_b64decode(bytes(blob))
        except (binascii.Error, ValueError):
            return False
        # version byte, 8-byte time, 16-byte IV, at least one 16-byte block, 32-byte HMAC.
        if len(raw) < 73 or raw[0] != 0x80:
            return False
        try:
            self._fernet.decrypt(bytes(blob))
        except InvalidToken:
            return True
        return False

    def encrypt_secret(self, value: str) -> bytes:
        """A secret that is not a platform credential (a webhook signing secret)."""
        return self._fernet.encrypt(value.encode())

    def decrypt_secret(self, blob: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(blob)).decode()
        except InvalidToken:
            raise CredentialsUnreadable(
                "a stored secret can't be decrypted: DRAVO_ENCRYPTION_KEY does not hold its key"
            ) from None

    def rotate(self, blob: bytes) -> bytes:
        """Re-encrypt with the first key."""
        try:
            return self._fernet.rotate(bytes(blob))
        except InvalidToken:
            raise CredentialsUnreadable(
                "stored credentials can't be decrypted with any configured key"
            ) from None
