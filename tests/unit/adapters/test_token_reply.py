"""OAuth token replies (X, LinkedIn, TikTok) become credentials, or a classified error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import Credentials
from adapters.errors import PlatformBroken
from adapters.flow import credentials_from_token_reply

NOW = datetime(2026, 11, 26, tzinfo=UTC)
OLD = Credentials(access_token="old", refresh_token="old-r", scopes=("a",), refresh_expires_at=NOW)


def test_rotated_refresh_token_and_lifetimes() -> None:
    body = {"access_token": "new", "expires_in": 7200, "refresh_token": "new-r", "refresh_expires_in": 60,
            "scope": "user.info.basic,user.info.stats"}  # fmt: skip
    new = credentials_from_token_reply(
        OLD, NOW, body, "TikTok", refresh_expires_key="refresh_expires_in", scope_separators=","
    )
    assert new.access_token == "new"
    assert new.refresh_token == "new-r"
    assert new.expires_at == NOW + timedelta(hours=2)
    assert new.refresh_expires_at == NOW + timedelta(seconds=60)
    assert new.scopes == ("user.info.basic", "user.info.stats")


def test_missing_fields_keep_what_we_had() -> None:
    new = credentials_from_token_reply(OLD, NOW, {"access_token": "new", "scope": "r_a, r_b"}, "LinkedIn",
                                       scope_separators=" ,")  # fmt: skip
    assert new.refresh_token == "old-r"
    assert new.refresh_expires_at == NOW
    assert new.expires_at is None
    assert new.scopes == ("r_a", "r_b")


@pytest.mark.parametrize(
    "body", [[], "html", {"expires_in": 10}, {"access_token": ""}, {"access_token": "t", "expires_in": -1}]
)
def test_malformed_replies_are_platform_broken(body: object) -> None:
    with pytest.raises(PlatformBroken):
        credentials_from_token_reply(OLD, NOW, body, "X")
