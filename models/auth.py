"""Resolve a bearer token (a Dravo API key or a dashboard JWT) to the workspace it acts for.

Everything that is not a valid, unrevoked key or a valid JWT of an existing workspace resolves
to None: callers answer one 401 for every kind of failure and so leak nothing about which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from models.apikeys import key_matches, looks_like_key, visible_prefix
from models.queries import Reader, find_api_key, workspace_exists
from models.read_models import Principal
from models.tables import ApiKey

# Pinned: never let the token's header pick the algorithm (`alg: none`, RS/HS confusion).
JWT_ALGORITHMS = ["HS256"]
# `last_used_at` is coarse on purpose: at most one write per key per this period.
KEY_USE_RESOLUTION = timedelta(minutes=1)


def resolve_api_key(session: Reader, token: str) -> Principal | None:
    if not looks_like_key(token):
        return None
    record = find_api_key(session, visible_prefix(token))
    # Compare even for a revoked key, so timing does not tell revoked from wrong.
    if record is None or not key_matches(token, record.key_hash) or record.revoked_at is not None:
        return None
    return Principal(workspace_id=record.workspace_id, kind="api_key", api_key_id=record.id)


def decode_jwt(token: str, secret: str) -> dict[str, Any] | None:
    """The claims of a valid dashboard JWT, or None (bad signature, alg, exp or claims)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=JWT_ALGORITHMS,
            options={"require": ["exp", "workspace_id"], "verify_aud": False},
        )
    except (jwt.PyJWTError, ValueError):
        return None
    workspace_id = claims.get("workspace_id")
    if not isinstance(workspace_id, str) or not workspace_id:
        return None
    return claims


def _jwt_principal(claims: dict[str, Any]) -> Principal:
    subject = claims.get("sub")
    return Principal(
        workspace_id=claims["workspace_id"],
        kind="jwt",
        subject=subject if isinstance(subject, str) else None,
    )


def resolve_jwt(session: Reader, token: str, secret: str | None) -> Principal | None:
    if not secret:  # dashboard JWTs are refused until DRAVO_JWT_SECRET is set
        return None
    claims = decode_jwt(token, secret)
    if claims is None or not workspace_exists(session, claims["workspace_id"]):
        return None
    return _jwt_principal(claims)


@dataclass(frozen=True)
class BearerCheck:
    """A token that passed every check needing no database; `resolve` does the rest."""

    token: str
    jwt_claims: dict[str, Any] | None = None

    def resolve(self, session: Reader) -> Principal | None:
        if self.jwt_claims is None:
            return resolve_api_key(session, self.token)
        if not workspace_exists(session, self.jwt_claims["workspace_id"]):
            return None
        return _jwt_principal(self.jwt_claims)


def check_bearer(token: str, jwt_secret: str | None) -> BearerCheck | None:
    """None for a token that can't be valid whatever the database holds (shape, signature, expiry)."""
    if looks_like_key(token):
        return BearerCheck(token)
    if not jwt_secret:  # dashboard JWTs are refused until DRAVO_JWT_SECRET is set
        return None
    claims = decode_jwt(token, jwt_secret)
    return None if claims is None else BearerCheck(token, claims)


def resolve_bearer(session: Reader, token: str, jwt_secret: str | None) -> Principal | None:
    check = check_bearer(token, jwt_secret)
    return None if check is None else check.resolve(session)


def record_key_use(session: Session, api_key_id: int, at: datetime) -> bool:
    """Set `last_used_at` unless it was set within KEY_USE_RESOLUTION; True if a row changed.

    The condition in SQL keeps several API processes from writing more than once a period too.
    """
    result = session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == api_key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at - KEY_USE_RESOLUTION),
        )
        .values(last_used_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
