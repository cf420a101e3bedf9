"""Dashboard JWTs: what a token must satisfy before its workspace is looked up.

HS256 only (the header never picks the algorithm). `exp` and `workspace_id` are required; `exp`,
`nbf` and `iat` are judged with LEEWAY of clock skew; `aud` and `iss` are checked when configured;
a token may not live longer than `max_ttl_seconds` from now (a leaked long-lived token is refused
even though it is signed); during a secret rotation the previous secret is tried second.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

# Pinned: never let the token's header pick the algorithm (`alg: none`, RS/HS confusion).
JWT_ALGORITHMS = ["HS256"]
# Clocks of the dashboard and the API may differ by this much.
LEEWAY_SECONDS = 30
DEFAULT_MAX_TTL_SECONDS = 86_400
# The shape of `models.ids.new_workspace_id` ("ws_" + hex), loosely: anything else is no workspace.
WORKSPACE_ID = re.compile(r"ws_[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True)
class JwtPolicy:
    # The current secret first, then the previous one (rotation). Never in the repr: a logged
    # traceback or error that shows the policy must not show the secrets.
    secrets: Sequence[str] = field(repr=False)
    audience: str | None = None
    issuer: str | None = None
    max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS

    @classmethod
    def of(cls, secret: str | JwtPolicy) -> JwtPolicy:
        return secret if isinstance(secret, JwtPolicy) else cls(secrets=(secret,))


def _decode_with(token: str, secret: str, policy: JwtPolicy) -> dict[str, Any]:
    required = ["exp", "workspace_id"]
    if policy.audience is not None:
        required.append("aud")
    if policy.issuer is not None:
        required.append("iss")
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=JWT_ALGORITHMS,
        audience=policy.audience,
        issuer=policy.issuer,
        leeway=LEEWAY_SECONDS,
        options={"require": required, "verify_aud": policy.audience is not None},
    )
    return claims


def decode(token: str, policy: JwtPolicy, now: float | None = None) -> dict[str, Any] | None:
    """The claims of a token that passes every check, or None."""
    claims: dict[str, Any] | None = None
    for secret in policy.secrets:
        try:
            claims = _decode_with(token, secret, policy)
            break
        except jwt.InvalidSignatureError:
            continue  # maybe signed with the other secret
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
    if claims is None:
        return None
    workspace_id = claims.get("workspace_id")
    if not isinstance(workspace_id, str) or WORKSPACE_ID.fullmatch(workspace_id) is None:
        return None
    exp = claims.get("exp")
    at = time.time() if now is None else now
    # PyJWT has checked that exp is a number; a bool is an int to Python but no time.
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    if exp > at + policy.max_ttl_seconds + LEEWAY_SECONDS:
        return None
    return claims
