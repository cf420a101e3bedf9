"""API keys: `dra_` + 43 url-safe random characters (256 bits), stored only as SHA-256.

A slow hash buys nothing for 256-bit random secrets; a fast one keeps authentication cheap.
The first characters after `dra_` are stored in clear as an index for lookup, and the hash is
then compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

KEY_PREFIX = "dra_"
VISIBLE_CHARS = 12
_KEY_SHAPE = re.compile(r"^dra_[A-Za-z0-9_-]{32,128}$")


@dataclass(frozen=True)
class NewApiKey:
    key: str = field(repr=False)  # shown once; never in a repr (a log's locals, an error)
    prefix: str
    key_hash: bytes


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def visible_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + VISIBLE_CHARS]


def looks_like_key(key: str) -> bool:
    return bool(_KEY_SHAPE.match(key))


def generate_key() -> NewApiKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(key=key, prefix=visible_prefix(key), key_hash=hash_key(key))


def key_matches(key: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_key(key), bytes(stored_hash))
