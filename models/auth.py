"""Resolve a bearer token (a Dravo API key or a dashboard JWT) to the workspace it acts for.

Everything that is not a valid, unrevoked key or a valid JWT of an existing workspace resolves
to None: callers answer one 401 for every kind of failure and so leak nothing about which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, text, update
from sqlalchemy.orm import Session

from models.apikeys import key_matches, looks_like_key, visible_prefix
from models.jwts import JwtPolicy as JwtPolicy  # re-exported: the API imports models.auth only
from models.jwts import decode
from models.queries import Reader
from models.read_models import Principal, Scope
from models.tables import ApiKey

# `last_used_at` is coarse on purpose: at most one write per key per this period.
KEY_USE_RESOLUTION = timedelta(minutes=1)


# The one statement authentication needs, for a key or a JWT (`:name` parameters). A key is found
# by its visible prefix and its hash compared here, in constant time; a JWT needs its workspace.
KEY_LOOKUP_SQL = "SELECT id, workspace_id, key_hash, revoked_at, scope FROM api_keys WHERE prefix = :prefix"
WORKSPACE_LOOKUP_SQL = "SELECT id FROM workspaces WHERE id = :workspace_id"


def decode_jwt(token: str, secret: str | JwtPolicy) -> dict[str, Any] | None:
    """The claims of a valid dashboard JWT, or None (see `models.jwts` for every check)."""
    return decode(token, JwtPolicy.of(secret))


def _jwt_principal(claims: dict[str, Any]) -> Principal:
    subject = claims.get("sub")
    return Principal(
        workspace_id=claims["workspace_id"],
        kind="jwt",
        subject=subject if isinstance(subject, str) else None,
    )


@dataclass(frozen=True)
class BearerCheck:
    """A token that passed every check needing no database; the rest takes one statement.

    `lookup()` gives that statement, `principal(row)` judges its first row. `resolve` runs both
    on a session; the API runs them on its async connections.
    """

    # The bearer token itself: never in the repr (a logged traceback, an error message).
    token: str = field(repr=False)
    jwt_claims: dict[str, Any] | None = None

    def lookup(self) -> tuple[str, dict[str, str]] | None:
        """The statement and its parameters; None when nothing stored can match."""
        if self.jwt_claims is None:
            value, sql, name = visible_prefix(self.token), KEY_LOOKUP_SQL, "prefix"
        else:
            value, sql, name = self.jwt_claims["workspace_id"], WORKSPACE_LOOKUP_SQL, "workspace_id"
        # Postgres text can't hold NUL: such a value matches nothing, and must not reach the driver.
        return None if "\x00" in value else (sql, {name: value})

    def principal(self, row: Sequence[Any] | None) -> Principal | None:
        if row is None:
            return None
        if self.jwt_claims is not None:
            return _jwt_principal(self.jwt_claims)
        key_id, workspace_id, key_hash, revoked_at, scope = row
        # Compare even for a revoked key, so timing does not tell revoked from wrong.
        if not key_matches(self.token, bytes(key_hash)) or revoked_at is not None:
            return None
        # Anything but a known wider scope reads only: a bad value never grants more.
        granted: Scope = "manage" if scope == "manage" else "read"
        return Principal(workspace_id=workspace_id, kind="api_key", api_key_id=key_id, scope=granted)

    def resolve(self, session: Reader) -> Principal | None:
        lookup = self.lookup()
        if lookup is None:
            return None
        sql, params = lookup
        row = session.execute(text(sql), params).first()
        return self.principal(None if row is None else tuple(row))


def check_bearer(token: str, jwt_secret: str | JwtPolicy | None) -> BearerCheck | None:
    """None for a token that can't be valid whatever the database holds (shape, signature, expiry)."""
    if looks_like_key(token):
        return BearerCheck(token)
    if not jwt_secret:  # dashboard JWTs are refused until DRAVO_JWT_SECRET is set
        return None
    claims = decode_jwt(token, jwt_secret)
    return None if claims is None else BearerCheck(token, claims)


def resolve_bearer(session: Reader, token: str, jwt_secret: str | JwtPolicy | None) -> Principal | None:
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
