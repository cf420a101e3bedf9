"""`dravo-sync status` lists each pinned API version with its sunset (docs/platforms.md, the
"Versions" rule)."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session, sessionmaker

from adapters import linkedin, meta
from tests.integration.foundation.test_cli import run


def test_status_json_has_every_pinned_version(
    test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    result = run(test_env, "status", "--json")
    assert result.returncode == 0, result.stderr
    versions = {v["platform"]: v for v in json.loads(result.stdout)["api_versions"]}
    assert set(versions) == {"instagram", "facebook", "x", "linkedin", "tiktok"}
    assert versions["facebook"]["version"] == meta.GRAPH_API_VERSION
    assert versions["linkedin"]["version"] == linkedin.API_VERSION
    assert versions["linkedin"]["sunset"] == linkedin.PINNED.sunset.isoformat()  # type: ignore[union-attr]


def test_status_table_shows_the_versions(
    test_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    result = run({**test_env, "COLUMNS": "200"}, "status")
    assert result.returncode == 0, result.stderr
    assert "Pinned API versions" in result.stdout
    assert linkedin.API_VERSION in result.stdout
