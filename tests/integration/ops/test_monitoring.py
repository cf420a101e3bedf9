"""The alert rules and the Grafana dashboard only name metrics dravo-sync really exports.

The exported names come from the real registries: the counters and histograms registered by
importing their modules, and the collectors the API and the workers run, collected against the
test database and Redis. The budget gauge is also checked for what it reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml
from prometheus_client import REGISTRY
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

import ops.foundation.metrics  # noqa: F401  (registers the counters and histograms)
from adapters.base import AccountRef
from api.gauges import FreshnessGauges, VersionLifetimeCollector
from api.webhook_gauges import WebhookCollector
from worker.budget import PlatformBudget, Rate, RedisRateBudget, pause_key
from worker.budget_gauges import AVAILABLE_RATIO, BudgetCollector

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "dravo-sync.json"

SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
PROMQL_WORDS = {
    "by",
    "without",
    "and",
    "or",
    "unless",
    "offset",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
}
BUDGETS = {
    "tiktok": PlatformBudget(app=Rate(10, 60), user=Rate(10, 60)),
    "x": PlatformBudget(app=Rate(100, 60), user=Rate(5, 60)),
}


def _names(collectors: list[Collector]) -> set[str]:
    names = set()
    for collector in collectors:
        for family in collector.collect():
            names.add(family.name)
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
    return names


@pytest.fixture
def exported(session_factory: sessionmaker[Session], redis_client: redis.Redis) -> set[str]:
    gauges = FreshnessGauges(
        session_factory,
        redis_client,
        15.0,
        extra_sources=[
            WebhookCollector(session_factory),
            BudgetCollector(lambda: budget(redis_client), BUDGETS),
        ],
    )
    gauges.refresh_now()
    return _names([REGISTRY, gauges, VersionLifetimeCollector()])


def budget(client: redis.Redis) -> RedisRateBudget:
    return RedisRateBudget(client, BUDGETS)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b\d+(\.\d+)?[smhdwy]?\b", "", expr)  # numbers and durations
    tokens = re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(\()?", expr)
    return {name for name, call in tokens if not call and name not in PROMQL_WORDS}


def alert_exprs() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule["alert"], rule["expr"]


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


def test_the_name_extraction_sees_metrics_only() -> None:
    expr = 'sum by (platform) (rate(dravo_syncs_total{outcome="failed"}[5m])) > 0.5 unless up offset 1h'
    assert metric_names(expr) == {"dravo_syncs_total", "up"}


def test_every_alert_names_exported_metrics(exported: set[str]) -> None:
    rules = list(alert_exprs())
    assert len(rules) >= 8
    for alert, expr in rules:
        names = metric_names(expr)
        assert names, alert
        assert names <= exported, (alert, names - exported)


def test_every_dashboard_panel_names_exported_metrics(exported: set[str]) -> None:
    targets = list(dashboard_exprs())
    assert len(targets) >= 10
    for title, expr in targets:
        names = metric_names(expr)
        assert names, title
        assert names <= exported, (title, names - exported)


def test_the_budget_gauge_reports_the_share_left(redis_client: redis.Redis) -> None:
    collector = BudgetCollector(lambda: budget(redis_client), BUDGETS)

    def ratios() -> dict[str, float]:
        family = next(iter(collector.collect()))
        assert family.name == AVAILABLE_RATIO
        return {s.labels["platform"]: s.value for s in family.samples}

    assert ratios() == {"tiktok": 1.0, "x": 1.0}  # untouched buckets are full
    shared = budget(redis_client)
    for i in range(5):
        shared.acquire(AccountRef(account_id=f"acc_{i}", platform="tiktok", platform_account_id=f"tt-{i}"))
    assert ratios()["tiktok"] == pytest.approx(0.5, abs=0.1)
    redis_client.set(pause_key("x", "app"), "1", px=60_000)  # a platform's rate-limit reply
    assert ratios()["x"] == 0.0
