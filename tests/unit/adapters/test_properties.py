"""Random and malformed bodies: every normaliser and classifier ends in a result or a PlatformError.

`DRAVO_FUZZ_EXAMPLES` raises the number of examples (default 200).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import facebook, instagram, linkedin, meta, tiktok, x
from adapters.errors import PlatformError
from adapters.values import MAX_COUNT
from tests.unit.adapters import recorded_bodies as rec
from tests.unit.adapters.recorded_bodies import make_reply

NOW = datetime(2026, 11, 20, tzinfo=UTC)
EXAMPLES = int(os.environ.get("DRAVO_FUZZ_EXAMPLES", "200"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["ok", "id", "data", "error", "reach", "followers_count", "public_metrics", "elements"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)
counts = st.one_of(st.integers(min_value=-5, max_value=MAX_COUNT * 2), json_values)


def _mutate(body: Any, draw: Callable[[Any], Any]) -> Any:
    """Replace some values of a real body with random ones, keeping its shape mostly intact."""
    if isinstance(body, dict):
        return {
            k: (draw(json_values) if draw(st.integers(0, 7)) == 0 else _mutate(v, draw))
            for k, v in body.items()
            if draw(st.integers(0, 9)) != 0
        }
    if isinstance(body, list):
        return [_mutate(v, draw) for v in body]
    if isinstance(body, int) and not isinstance(body, bool):
        return draw(counts)
    return body


@st.composite
def near(draw: Any, body: Any) -> Any:
    return _mutate(body, draw)


def outcome(call: Callable[[], Any]) -> None:
    """The call may return or raise a classified error; anything else fails the test."""
    with contextlib.suppress(PlatformError):
        call()


@fuzz
@given(
    node=st.one_of(json_values, near(rec.IG_NODE)),
    items=st.one_of(st.lists(json_values, max_size=4), near(rec.IG_INSIGHTS_TOTAL["data"])),
)
def test_instagram_normalise(node: Any, items: Any) -> None:
    outcome(lambda: instagram.normalise(node, items, list(instagram.PERIOD_METRICS)))


@fuzz
@given(
    node=st.one_of(json_values, near(rec.FB_PAGE)),
    items=st.one_of(st.lists(json_values, max_size=4), near(rec.FB_INSIGHTS["data"])),
)
def test_facebook_normalise(node: Any, items: Any) -> None:
    outcome(lambda: facebook.normalise(node, items, list(facebook.INSIGHT_METRICS)))


@fuzz
@given(body=st.one_of(json_values, near(rec.X_DOCS_USER)))
def test_x_normalise(body: Any) -> None:
    outcome(lambda: x.normalise(body))


@fuzz
@given(
    network=st.one_of(json_values, near(rec.LI_NETWORK_SIZES)),
    gains=st.one_of(json_values, near(rec.LI_GAINS)),
    pages=st.one_of(json_values, near(rec.LI_PAGES)),
    member=st.one_of(json_values, near(rec.LI_MEMBER)),
)
def test_linkedin_normalise(network: Any, gains: Any, pages: Any, member: Any) -> None:
    outcome(lambda: linkedin.normalise_organization(network, gains, pages, "urn:li:organization:1"))
    outcome(lambda: linkedin.normalise_member(member, "urn:li:person:a"))


@fuzz
@given(body=st.one_of(json_values, near(rec.TT_MIRROR_USER)))
def test_tiktok_normalise(body: Any) -> None:
    outcome(lambda: tiktok.normalise(body))


error_bodies = st.sampled_from(
    [
        rec.META_EXPIRED,
        rec.META_PAGE_TOKEN,
        rec.META_THROTTLED_80000,
        rec.IG_RETIRED_ERROR,
        rec.X_TOO_MANY,
        rec.X_USAGE_CAP,
        rec.LI_EXPIRED,
        rec.LI_THROTTLED,
        rec.tiktok_error("rate_limit_exceeded"),
    ]
)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.one_of(
        near(rec.META_EXPIRED),
        near(rec.IG_RETIRED_ERROR),
        near(rec.X_USAGE_CAP),
        error_bodies,
        near(rec.tiktok_error("access_token_invalid")),
        near(rec.LI_REVOKED),
    ).map(lambda v: json.dumps(v).encode()),
)
headers = st.dictionaries(
    st.sampled_from(
        [
            "retry-after",
            "x-rate-limit-reset",
            "x-rate-limit-remaining",
            "x-business-use-case-usage",
            "x-app-usage",
        ]
    ),
    st.one_of(
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
        st.integers(-10, 10**12).map(str),
    ),
    max_size=3,
)


@fuzz
@given(
    status=st.sampled_from([200, 201, 400, 401, 402, 403, 404, 426, 429, 500, 503]),
    body=raw_bodies,
    head=headers,
)
def test_classifiers(status: int, body: bytes, head: dict[str, str]) -> None:
    reply = make_reply(status, body, head)
    classifiers: tuple[Callable[[], PlatformError | None], ...] = (
        lambda: meta.classify(reply, NOW, label="Instagram", requested_metrics=["reach"]),
        lambda: x.classify(reply, NOW, ["verified_followers_count"]),
        lambda: x.classify_token_reply(reply, NOW),
        lambda: linkedin.classify(reply, NOW),
        lambda: linkedin.classify_token_reply(reply),
        lambda: tiktok.classify(reply, NOW, tiktok.STAT_FIELDS),
        lambda: tiktok.classify_token_reply(reply, NOW),
    )
    for classify in classifiers:
        try:
            result = classify()
        except PlatformError:
            continue
        assert result is None or isinstance(result, PlatformError)
        if result is not None:
            assert "\n" not in result.message
