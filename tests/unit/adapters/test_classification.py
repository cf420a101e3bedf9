"""docs/platforms.md's "Errors and the row" tables, row by row: each reply body maps to one error class
(no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters import linkedin, meta, tiktok, x
from adapters.errors import (
    IntegrationBug,
    MetricUnavailable,
    OperatorActionNeeded,
    PlatformBroken,
    PlatformError,
    PlatformUnavailable,
    RateLimited,
    ReconnectRequired,
    RetryLater,
    TokenExpired,
)
from tests.unit.adapters import recorded_bodies as rec
from tests.unit.adapters.recorded_bodies import make_reply

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, rec.META_EXPIRED, ReconnectRequired),
        (400, rec.META_PASSWORD, ReconnectRequired),
        (400, rec.META_APP_REMOVED, ReconnectRequired),
        (400, rec.META_190_PERMISSION, ReconnectRequired),
        (400, rec.META_CODE_10, OperatorActionNeeded),  # the app lacks access on a basic read
        (403, rec.META_CODE_200, ReconnectRequired),
        (400, rec.META_MISSING_PERMISSIONS, ReconnectRequired),
        (400, rec.META_LOST_ACCESS, ReconnectRequired),
        # A code 190 that means "wrong token type" is our setup, never a reconnect.
        (400, rec.META_PAGE_TOKEN, IntegrationBug),
        (400, rec.META_METRIC_TYPE, IntegrationBug),
        (400, rec.META_NO_METRIC, IntegrationBug),
        (400, rec.IG_RETIRED_ERROR, MetricUnavailable),
        (400, rec.FB_RETIRED_ERROR, MetricUnavailable),
        (400, rec.META_THROTTLED_80000, RateLimited),
        (500, rec.META_UNKNOWN_500, RetryLater),
        (400, rec.META_TRANSIENT, RetryLater),
        (503, b"<html>Service Unavailable</html>", PlatformUnavailable),
        (200, b"<html>oops</html>", PlatformBroken),
        (200, b'{"id": "1", "followers', PlatformBroken),
        (404, b"Not Found", IntegrationBug),
    ],
)
def test_meta_table(status: int, body: object, expected: type[PlatformError]) -> None:
    error = meta.classify(make_reply(status, body), NOW, label="Instagram", requested_metrics=["impressions"])
    assert type(error) is expected


def test_meta_retired_metric_is_named_from_its_index() -> None:
    error = meta.classify(
        make_reply(400, rec.IG_RETIRED_ERROR),
        NOW,
        label="Instagram",
        requested_metrics=["impressions", "reach"],
    )
    assert isinstance(error, MetricUnavailable)
    assert (error.metric, error.retired) == ("impressions", True)


@pytest.mark.parametrize("code", [4, 17, 32, 341, 368, 613, 80001, 80002, 80014])
def test_meta_throttle_codes(code: int) -> None:
    body = {"error": {"message": f"(#{code}) too many calls", "type": "OAuthException", "code": code}}
    error = meta.classify(make_reply(400, body), NOW, label="Facebook")
    assert isinstance(error, RateLimited)
    assert error.retry_at == NOW + meta.DEFAULT_THROTTLE_WAIT


def test_meta_buc_header_gives_the_reset_in_minutes() -> None:
    headers = {
        "x-business-use-case-usage": '{"1784": [{"type": "instagram", "call_count": 100, '
        '"total_cputime": 3, "total_time": 4, "estimated_time_to_regain_access": 17}]}'
    }
    body = {"error": {"message": "(#80002) too many calls", "code": 80002, "error_subcode": 2494055}}
    error = meta.classify(make_reply(400, body, headers), NOW, label="Instagram")
    assert isinstance(error, RateLimited)
    assert error.retry_at == NOW + timedelta(minutes=17)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", NOW + timedelta(seconds=120)), ("Fri, 20 Nov 2026 16:00:00 GMT", NOW + timedelta(minutes=30))],
)
def test_meta_retry_after_seconds_or_http_date(value: str, expected: datetime) -> None:
    error = meta.classify(
        make_reply(429, rec.META_THROTTLED_80000, {"retry-after": value}), NOW, label="Facebook"
    )
    assert isinstance(error, RateLimited)
    assert error.retry_at == expected


def test_meta_success_is_none() -> None:
    assert meta.classify(make_reply(200, rec.IG_NODE), NOW, label="Instagram") is None


RESET = int((NOW + timedelta(minutes=9)).timestamp())


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (401, rec.X_UNAUTHORIZED, {}, TokenExpired),
        (403, rec.X_CLIENT_FORBIDDEN, {}, OperatorActionNeeded),
        (403, rec.X_UNSUPPORTED_AUTH, {}, OperatorActionNeeded),
        (
            403,
            {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"},
            {},
            ReconnectRequired,
        ),
        (402, rec.X_CREDITS, {}, OperatorActionNeeded),
        (429, rec.X_USAGE_CAP, {}, OperatorActionNeeded),
        (429, rec.X_TOO_MANY, {"x-rate-limit-reset": str(RESET), "x-rate-limit-remaining": "0"}, RateLimited),
        (503, {"title": "Service Unavailable"}, {}, PlatformUnavailable),
        (200, b"<html/>", {}, PlatformBroken),
        (200, {"errors": [{"title": "Not Found Error"}]}, {}, PlatformBroken),
    ],
)
def test_x_table(status: int, body: object, headers: dict[str, str], expected: type[PlatformError]) -> None:
    error = x.classify(make_reply(status, body, headers), NOW)
    assert type(error) is expected
    if isinstance(error, RateLimited):
        assert error.retry_at == datetime.fromtimestamp(RESET, UTC)
        assert error.limit == "X user rate limit"


def test_x_partial_success_is_a_result() -> None:
    body = {**rec.X_DOCS_USER, "errors": [{"title": "Not Found Error", "detail": "Could not find tweet"}]}
    assert x.classify(make_reply(200, body), NOW) is None
    assert x.normalise(body).warnings


@pytest.mark.parametrize("error", ["invalid_request", "invalid_grant"])
def test_x_refresh_refusal_means_reconnect(error: str) -> None:
    body = {**rec.X_REFRESH_INVALID, "error": error}
    assert type(x.classify_token_reply(make_reply(400, body), NOW)) is ReconnectRequired


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, rec.LI_EXPIRED, TokenExpired),
        (401, rec.LI_EXPIRED_OLD, TokenExpired),
        (401, rec.LI_REVOKED, ReconnectRequired),
        (401, rec.LI_INVALID, ReconnectRequired),
        (403, rec.LI_FORBIDDEN, ReconnectRequired),
        (426, rec.LI_SUNSET, OperatorActionNeeded),
        (400, {"status": 400, "message": "Syntax exception in path variables"}, IntegrationBug),
        (500, {"status": 500, "message": "Internal Server Error"}, PlatformUnavailable),
        (504, b"Gateway Timeout", PlatformUnavailable),
    ],
)
def test_linkedin_table(status: int, body: object, expected: type[PlatformError]) -> None:
    assert type(linkedin.classify(make_reply(status, body), NOW)) is expected


def test_linkedin_quota_resets_at_midnight_utc() -> None:
    error = linkedin.classify(make_reply(429, rec.LI_THROTTLED), NOW)
    assert isinstance(error, RateLimited)
    assert error.retry_at == datetime(2026, 11, 21, tzinfo=UTC)
    assert error.limit == "LinkedIn daily quota"


def test_linkedin_refresh_refusal_means_reconnect() -> None:
    assert type(linkedin.classify_token_reply(make_reply(400, rec.LI_REFRESH_INVALID))) is ReconnectRequired


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "rate_limit_exceeded", RateLimited),
        (500, "internal_error", PlatformUnavailable),
        (401, "access_token_invalid", TokenExpired),
        (401, "scope_not_authorized", ReconnectRequired),
        (400, "scope_permission_missed", ReconnectRequired),
        (400, "invalid_params", IntegrationBug),
        # The envelope decides, whatever the status says.
        (200, "access_token_invalid", TokenExpired),
        (200, "something_new", IntegrationBug),
    ],
)
def test_tiktok_table(status: int, code: str, expected: type[PlatformError]) -> None:
    assert type(tiktok.classify(make_reply(status, rec.tiktok_error(code)), NOW)) is expected


def test_tiktok_retired_field_is_isolated() -> None:
    error = tiktok.classify(
        make_reply(400, rec.tiktok_error("invalid_params", "Invalid fields: likes_count")),
        NOW,
        tiktok.STAT_FIELDS,
    )
    assert isinstance(error, MetricUnavailable)
    assert error.metric == "likes_count"


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, {"data": {}}), (200, b"not json"), (500, b"<html/>"), (404, {"message": "no envelope"})],
)
def test_tiktok_missing_envelope_is_broken(status: int, body: object) -> None:
    # A 5xx is no answer at all (it counts towards an outage hold); the others are bad answers.
    expected = PlatformUnavailable if status >= 500 else PlatformBroken
    assert type(tiktok.classify(make_reply(status, body), NOW)) is expected


@pytest.mark.parametrize("status", [200, 400])
def test_tiktok_oauth_invalid_grant_even_with_200(status: int) -> None:
    body = {"error": "invalid_grant", "error_description": "refresh token is invalid", "log_id": "1"}
    assert type(tiktok.classify_token_reply(make_reply(status, body), NOW)) is ReconnectRequired
