"""Every list of platforms derives from the registry (in the spirit of httpx's exported-members test).

Three checks: each derived list equals the registry's; a sixth spec added to the registry reaches
every derived helper and the settings without another edit; and no module outside the registry
writes the platforms out by hand (the AST scan), except the named per-platform fact tables whose
keys are checked against the registry here.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import CheckConstraint, ForeignKey

from adapters import base
from adapters.registry import adapter_factory
from api import gauges
from models import read_models, tables
from ops import versions
from ops.foundation import platforms as registry
from ops.foundation.settings import Settings, load_settings
from simulator import catalog, state
from simulator.platform import SimPlatform
from worker import budget, names, outcome

ROOT = Path(__file__).resolve().parents[3]
NAMES = registry.PLATFORM_NAMES
SOURCE_DIRS = ("adapters", "api", "models", "ops", "simulator", "worker", "bench")
# Tables of per-platform facts that belong beside their code: allowed to name every platform.
FACT_TABLES = {
    ("bench/throughput.py", None),  # the account id format of each platform
}
SIXTH = dataclasses.replace(
    registry.spec("tiktok"),
    name="mastodon",
    label="Mastodon",
    api_base="https://mastodon.example",
    estimated_calls_per_sync=2,
    app_budget="300/300",
    user_budget="300/300",
)


def test_the_literal_type_names_the_registry() -> None:
    assert typing.get_args(registry.Platform) == NAMES
    assert len(set(NAMES)) == len(NAMES)


def test_every_derived_list_is_the_registry() -> None:
    assert base.PLATFORMS == NAMES
    assert typing.get_args(read_models.Platform) == NAMES
    assert tables.PLATFORM_VALUES == NAMES
    assert names.PLATFORM_QUEUES == NAMES
    assert [names.platform_queue(p) for p in NAMES] == [s.queue for s in registry.PLATFORMS]
    assert set(gauges.QUEUES) >= set(registry.queues())
    assert {s.name: s.estimated_calls_per_sync for s in registry.PLATFORMS} == budget.ESTIMATED_CALLS_PER_SYNC
    assert {s.name: s.label for s in registry.PLATFORMS} == outcome.PLATFORM_LABELS
    assert versions.LABELS == outcome.PLATFORM_LABELS
    assert {s.name: s.pinned for s in registry.PLATFORMS} == versions.PINNED
    assert {s.name: s.metric_keys for s in registry.PLATFORMS} == read_models.METRIC_ORDER
    assert state.PLATFORMS == NAMES
    assert tuple(p.name for p in catalog.simulated_platforms()) == NAMES


def test_the_platform_columns_refer_to_the_platforms_table() -> None:
    # No list of platforms in the schema: a foreign key to `platforms`, whose rows the registry writes.
    for name in ("accounts", "account_sync"):
        table = tables.Account.metadata.tables[name]
        assert not [
            c for c in table.constraints if isinstance(c, CheckConstraint) and "platform" in str(c.name)
        ]
        keys: set[ForeignKey] = table.c.platform.foreign_keys
        assert [k.target_fullname for k in keys] == ["platforms.name"]


def test_settings_and_defaults_come_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("DRAVO_ENV", "development")
    settings = load_settings()
    assert tuple(settings.platforms) == NAMES
    for spec in registry.PLATFORMS:
        chosen = settings.platforms[spec.name]
        assert (chosen.api_base, chosen.app_budget, chosen.user_budget, chosen.oauth_base) == (
            spec.api_base,
            spec.app_budget,
            spec.user_budget,
            spec.oauth_base,
        )
        # None: the pinned one.
        assert settings.platform(spec.name).api_version is None  # type: ignore[arg-type]


# Every variable name the flat settings had, with a value and how to read it back.
OLD_VARIABLES = [
    *((f"DRAVO_{p.upper()}_API_BASE", f"https://{p}.proxy.internal", p, "api_base") for p in NAMES),
    *((f"DRAVO_{p.upper()}_API_VERSION", f"{p}-v9", p, "api_version") for p in NAMES),
    *((f"DRAVO_{p.upper()}_CLIENT_ID", f"{p}-client", p, "client_id") for p in NAMES),
    *((f"DRAVO_{p.upper()}_CLIENT_SECRET", f"{p}-secret", p, "client_secret") for p in NAMES),
    *((f"DRAVO_{p.upper()}_FRESHNESS_SECONDS", "3600", p, "freshness_seconds") for p in NAMES),
    *((f"DRAVO_{p.upper()}_APP_BUDGET", "7/70", p, "app_budget") for p in NAMES),
    *((f"DRAVO_{p.upper()}_USER_BUDGET", "3/30", p, "user_budget") for p in NAMES),
    ("DRAVO_LINKEDIN_OAUTH_BASE", "https://oauth.proxy.internal", "linkedin", "oauth_base"),
]


@pytest.mark.parametrize(("variable", "value", "platform", "field"), OLD_VARIABLES)
def test_every_old_variable_name_still_sets_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, platform: str, field: str
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("DRAVO_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv(variable, value)
    chosen = load_settings().platforms[platform]
    got = getattr(chosen, field)
    got = got.get_secret_value() if field == "client_secret" else got
    assert str(got) == value
    others = [p for p in NAMES if p != platform]
    assert all(getattr(load_settings().platforms[p], field) != got for p in others)


def test_bad_nested_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("DRAVO_ENV", "development")
    monkeypatch.setenv("DRAVO_TIKTOK_FRESHNESS_SECONDS", "5")
    with pytest.raises(Exception, match="DRAVO_TIKTOK_FRESHNESS_SECONDS"):
        load_settings()


def test_a_sixth_platform_reaches_every_derived_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    # One registry entry: the helpers and the settings (with its DRAVO_MASTODON_... variables) follow.
    monkeypatch.setattr(registry, "PLATFORMS", (*registry.PLATFORMS, SIXTH))
    monkeypatch.setattr(registry, "_BY_NAME", {s.name: s for s in registry.PLATFORMS})
    assert registry.labels()["mastodon"] == "Mastodon"
    assert registry.queues()[-1] == "sync.mastodon"
    assert names.platform_queue("mastodon") == "sync.mastodon"
    assert registry.estimated_calls_per_sync()["mastodon"] == 2
    assert registry.metric_keys()["mastodon"] == SIXTH.metric_keys
    _clean_env(monkeypatch)
    monkeypatch.setenv("DRAVO_ENV", "development")
    monkeypatch.setenv("DRAVO_MASTODON_USER_BUDGET", "9/90")
    settings = Settings()
    assert settings.platforms["mastodon"].app_budget == "300/300"
    assert settings.platforms["mastodon"].user_budget == "9/90"
    assert budget.budgets_from_settings(settings)["mastodon"].user == budget.Rate(9, 90)


def _platform_literals(tree: ast.AST) -> list[tuple[int, str | None]]:
    """(line, assigned name) of every literal naming three or more platforms."""
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        value: ast.AST = node
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        name = targets[0].id if targets and isinstance(targets[0], ast.Name) else None
        for inner in ast.walk(value):
            items: list[ast.expr | None] = []
            if isinstance(inner, ast.Tuple | ast.List | ast.Set):
                items = list(inner.elts)
            elif isinstance(inner, ast.Dict):
                items = list(inner.keys)
            hits = {i.value for i in items if isinstance(i, ast.Constant) and i.value in NAMES}
            if len(hits) == len(NAMES):
                found.append((getattr(inner, "lineno", 0), name))
    return found


def test_no_module_outside_the_registry_lists_the_platforms() -> None:
    # The scan sees the registry's own lists, so it would see a copy elsewhere.
    assert _platform_literals(ast.parse((ROOT / "ops/foundation/platforms.py").read_text()))
    strays = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative == "ops/foundation/platforms.py":
                continue
            for line, name in _platform_literals(ast.parse(path.read_text())):
                if (relative, name) not in FACT_TABLES and (relative, None) not in FACT_TABLES:
                    strays.append(f"{relative}:{line} ({name})")
    assert not strays, f"platforms written out by hand (derive them from ops.foundation.platforms): {strays}"


def test_each_platform_names_its_adapter_and_its_simulator_module() -> None:
    # Meta's two platforms share the Graph simulator (simulator/meta.py) and its helpers.
    for spec in registry.PLATFORMS:
        assert spec.adapter.startswith(f"adapters.{spec.name}:"), spec.name
        assert callable(adapter_factory(spec.name))
        assert spec.simulator.startswith("simulator."), spec.name
        assert isinstance(catalog.simulated(spec.name), SimPlatform)


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DRAVO_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
