"""Dashboard JWT checks (models/jwts.py): skew, audience, issuer, lifetime, rotation, claim shape."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from models.jwts import LEEWAY_SECONDS, JwtPolicy, decode

SECRET = "current-secret-long-enough-for-hs256-0123456789"
PREVIOUS = "previous-secret-long-enough-for-hs256-012345678"
NOW = 1_800_000_000.0


def _token(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode({"workspace_id": "ws_0123456789abcdef", "exp": int(NOW) + 300, **claims}, secret)


def _decode(token: str, policy: JwtPolicy | None = None) -> dict[str, Any] | None:
    # PyJWT reads the clock itself for exp/nbf/iat: freeze it at NOW.
    return decode(token, policy or JwtPolicy(secrets=(SECRET,)), now=NOW)


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import jwt.api_jwt

    class _Clock:
        @staticmethod
        def now(tz: object = None) -> Any:
            from datetime import UTC, datetime

            return datetime.fromtimestamp(NOW, tz=UTC)

    monkeypatch.setattr(jwt.api_jwt, "datetime", _Clock)


def test_clock_skew_up_to_the_leeway_is_accepted_on_exp_nbf_and_iat() -> None:
    inside = LEEWAY_SECONDS - 5
    outside = LEEWAY_SECONDS + 5
    assert _decode(_token({"exp": int(NOW) - inside})) is not None
    assert _decode(_token({"exp": int(NOW) - outside})) is None
    assert _decode(_token({"nbf": int(NOW) + inside})) is not None
    assert _decode(_token({"nbf": int(NOW) + outside})) is None
    assert _decode(_token({"iat": int(NOW) + inside})) is not None
    assert _decode(_token({"iat": int(NOW) + outside})) is None


def test_audience_and_issuer_are_checked_when_configured() -> None:
    policy = JwtPolicy(secrets=(SECRET,), audience="dravo-api", issuer="https://dash.example")
    good = {"aud": "dravo-api", "iss": "https://dash.example"}
    assert _decode(_token(good), policy) is not None
    assert _decode(_token({**good, "aud": "other"}), policy) is None
    assert _decode(_token({**good, "iss": "https://evil.example"}), policy) is None
    assert _decode(_token({"iss": "https://dash.example"}), policy) is None  # aud missing
    assert _decode(_token({"aud": "dravo-api"}), policy) is None  # iss missing
    # Not configured: not checked, whatever the token carries.
    assert _decode(_token({"aud": "anything", "iss": "anyone"})) is not None


def test_a_token_living_longer_than_the_maximum_is_refused() -> None:
    policy = JwtPolicy(secrets=(SECRET,), max_ttl_seconds=3600)
    assert _decode(_token({"exp": int(NOW) + 3600}), policy) is not None
    assert _decode(_token({"exp": int(NOW) + 3600 + LEEWAY_SECONDS + 1}), policy) is None
    assert _decode(_token({"exp": int(NOW) + 10 * 365 * 86400})) is None  # default: 24 h


def test_the_previous_secret_is_accepted_during_rotation() -> None:
    old = _token({}, secret=PREVIOUS)
    assert _decode(old) is None
    rotating = JwtPolicy(secrets=(SECRET, PREVIOUS))
    assert _decode(old, rotating) is not None
    assert _decode(_token({}), rotating) is not None
    assert _decode(_token({}, secret="a-third-secret-long-enough-for-hs256-0123"), rotating) is None


@pytest.mark.parametrize(
    "workspace_id",
    [7, None, "", "ws_", "acc_0123456789abcdef", "ws_" + "a" * 65, "ws_a\x00b", "ws_é", ["ws_1"], {"id": 1}],
)
def test_a_malformed_workspace_id_is_refused(workspace_id: object) -> None:
    assert _decode(_token({"workspace_id": workspace_id})) is None


@pytest.mark.parametrize("exp", ["soon", True, None, [1]])
def test_a_malformed_exp_is_refused(exp: object) -> None:
    assert _decode(_token({"exp": exp})) is None
