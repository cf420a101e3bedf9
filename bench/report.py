"""Results of each benchmark are kept as JSON beside the code and rendered into docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"

ORDER = [
    "throughput",
    "scheduler",
    "api",
    "paging",
    "import",
    "refresh_storm",
    "webhooks",
    "freshness",
    "simulation",
]

INTRO = """# Benchmarks

Run on demand, never in `make test`: `make bench` runs them all; `python -m bench NAME` runs one.
This machine is shared and noisy, so every figure is a median over several runs and every
comparison is a ratio between things measured in the same run. Each section below is rewritten by
its benchmark (`bench/results/NAME.json` holds the raw numbers).
"""


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def before(name: str) -> dict[str, Any] | None:
    """The run kept as the "before" of a change (`bench/results/NAME.before.json`), if any."""
    path = RESULTS / f"{name}.before.json"
    return dict(json.loads(path.read_text())) if path.exists() else None


def save(name: str, command: str, markdown: str, data: dict[str, Any], ran_at: str | None = None) -> None:
    """Write the result and re-render docs/benchmarks.md; `ran_at` keeps a run's own time when
    its figures are only summarised again."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "name": name,
        "command": command,
        "ran_at": ran_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "markdown": markdown,
        "data": data,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    render()


def render() -> None:
    parts = [INTRO]
    for name in ORDER:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        m = record["machine"]
        parts.append(
            f"{record['markdown'].rstrip()}\n\n"
            f"Command: `{record['command']}` — ran {record['ran_at']} on {m['cpus']} CPUs, "
            f"Python {m['python']}, {m['system']}.\n"
        )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(parts))
