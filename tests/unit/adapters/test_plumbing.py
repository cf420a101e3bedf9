"""Shared helpers: insights isolation, reset-time parsing, key derivation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.errors import MetricUnavailable
from adapters.limits import epoch_header, meta_usage, next_midnight_utc, retry_after
from adapters.meta_insights import read_insights
from adapters.values import snake_case

NOW = datetime(2026, 11, 20, 23, 59, 30, tzinfo=UTC)


class FakeGraph:
    """Rejects any request containing a bad metric, naming it by index or not."""

    def __init__(self, bad: set[str], *, indexed: bool) -> None:
        self.bad, self.indexed, self.calls = bad, indexed, 0

    def __call__(self, metrics: Sequence[str]) -> Sequence[object]:
        self.calls += 1
        for metric in metrics:
            if metric in self.bad:
                raise MetricUnavailable("rejected", metric if self.indexed else "", retired=True)
        return [{"name": m} for m in metrics]


METRICS = [f"m{i}" for i in range(12)]


@pytest.mark.parametrize("indexed", [True, False])
@pytest.mark.parametrize("bad", [set(), {"m0"}, {"m7"}, {"m3", "m9"}])
def test_isolation_finds_bad_metrics_in_bounded_calls(indexed: bool, bad: set[str]) -> None:
    graph = FakeGraph(bad, indexed=indexed)
    outcome = read_insights(graph, METRICS)
    assert set(outcome.rejected) == bad
    assert [i["name"] for i in outcome.items] == [m for m in METRICS if m not in bad]
    assert outcome.unread == []
    assert graph.calls <= 1 + 10


def test_isolation_gives_up_after_its_call_budget() -> None:
    graph = FakeGraph(set(METRICS), indexed=False)
    outcome = read_insights(graph, METRICS, max_extra_calls=3)
    assert graph.calls == 4
    assert set(outcome.rejected) | set(outcome.unread) <= set(METRICS)
    assert outcome.unread


def test_no_metrics_means_no_call() -> None:
    graph = FakeGraph(set(), indexed=True)
    assert read_insights(graph, []).items == []
    assert graph.calls == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", NOW + timedelta(seconds=30)),
        ("0", NOW + timedelta(seconds=1)),
        ("999999999", NOW + timedelta(hours=24)),
        ("Sat, 21 Nov 2026 00:10:00 GMT", datetime(2026, 11, 21, 0, 10, tzinfo=UTC)),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after(header: str, expected: datetime | None) -> None:
    assert retry_after(httpx.Headers({"retry-after": header}), NOW) == expected


def test_epoch_header_and_midnight() -> None:
    assert (
        epoch_header(httpx.Headers({"x-rate-limit-reset": "1795305600"}), "x-rate-limit-reset", NOW)
        is not None
    )
    assert epoch_header(httpx.Headers({"x-rate-limit-reset": "-5"}), "x-rate-limit-reset", NOW) is None
    assert next_midnight_utc(NOW) == datetime(2026, 11, 21, tzinfo=UTC)


def test_meta_usage_headers() -> None:
    headers = httpx.Headers(
        {
            "x-app-usage": '{"call_count": 28, "total_time": 25, "total_cputime": 25}',
            "x-business-use-case-usage": '{"1": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 5}]}',
        }
    )
    app, user = meta_usage(headers, NOW)
    assert (app.scope, app.usage_percent) == ("app", 28.0)
    assert (user.scope, user.usage_percent, user.blocked_until) == ("user", 100.0, NOW + timedelta(minutes=5))
    assert meta_usage(httpx.Headers({"x-app-usage": "{not json"}), NOW) == []


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("allPageViews", "all_page_views"),
        ("firstDegreeSize", "first_degree_size"),
        ("organicFollowerGain", "organic_follower_gain"),
        ("pageViews", "page_views"),
        ("views", "views"),
    ],
)
def test_snake_case(name: str, snake: str) -> None:
    assert snake_case(name) == snake
