"""No dead code in the source packages: vulture, run as `make lint` runs it, finds nothing.

`vulture` reads its paths, confidence and allowed names from `[tool.vulture]` in pyproject.toml;
a name a signature needs but no body reads is allowed there with its reason, not here.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCE_PACKAGES = {"adapters", "api", "models", "ops", "simulator", "worker", "bench"}


def _vulture(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vulture", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_vulture_covers_every_source_package_at_confidence_80() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["vulture"]
    assert set(config["paths"]) == SOURCE_PACKAGES
    assert config["min_confidence"] == 80


def test_vulture_finds_no_dead_code() -> None:
    done = _vulture()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_vulture_reports_an_unused_variable(tmp_path: Path) -> None:
    # The check above passes only because vulture looked: the same run over dead code fails.
    (tmp_path / "dead.py").write_text("import json\n\n\ndef f(unused: int) -> int:\n    return 2\n")
    done = _vulture(str(tmp_path), "--min-confidence", "80")
    assert done.returncode != 0
    assert "unused import 'json'" in done.stdout
    assert "unused variable 'unused'" in done.stdout
