"""`dravo-sync capacity` where the benchmark results are absent (the image ships no bench/): it
falls back to the shipped measurement instead of failing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops.cli import capacity as capacity_cli
from ops.cli.command import load_commands
from ops.foundation import platforms as platform_registry


def test_capacity_without_bench_results_uses_the_shipped_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capacity_cli, "THROUGHPUT_RESULT", tmp_path / "absent.json")
    first = platform_registry.PLATFORMS[0].name
    result = CliRunner().invoke(
        load_commands(), ["capacity", "--accounts", f"{first}=1000", "--cores-per-host", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["worker_cores"] == pytest.approx(
        data["syncs_per_second"] * capacity_cli.SHIPPED_CPU_MS_PER_SYNC / 1000
    )
    assert "shipped" in result.stderr


def test_the_shipped_figure_is_the_benchmark_s() -> None:
    # A source checkout always carries the results; the image is where they are missing.
    assert capacity_cli.THROUGHPUT_RESULT.exists()
    measured = json.loads(capacity_cli.THROUGHPUT_RESULT.read_text())["data"]["celery"]["cpu_ms_per_sync"]
    assert pytest.approx(measured, abs=0.01) == capacity_cli.SHIPPED_CPU_MS_PER_SYNC
