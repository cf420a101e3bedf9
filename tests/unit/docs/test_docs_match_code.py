"""The docs quote what the code and the benchmarks say: one CPU-per-sync figure, ids of the real
format, and no references to an issue tracker a reader can't see."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from models.apikeys import KEY_PREFIX
from models.ids import new_account_id, new_workspace_id
from models.webhook_admin import new_endpoint_id

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CPU_DOCS = [ROOT / "README.md", ROOT / "docs" / "capacity.md", ROOT / "docs" / "worker.md"]


def _text(path: Path) -> str:
    # One line: a figure and its unit may be wrapped onto two lines.
    return " ".join(path.read_text().split())


def measured_cpu_ms() -> str:
    record = json.loads((ROOT / "bench" / "results" / "throughput.json").read_text())
    return f"{record['data']['celery']['cpu_ms_per_sync']:.2f}"


# "5.84 ms of CPU per sync", "5.84 ms CPU per sync", "(bench/results/throughput.json: 5.84 ms".
CPU_FIGURE = [
    re.compile(r"(\d+(?:\.\d+)?)\s*ms (?:of )?CPU (?:per|a) sync"),
    re.compile(r"throughput\.json[:,]\s*~?(\d+(?:\.\d+)?)\s*ms"),
]


@pytest.mark.parametrize("path", CPU_DOCS, ids=lambda p: p.name)
def test_every_cpu_per_sync_figure_is_the_benchmarks(path: Path) -> None:
    text = _text(path)
    figures = [match for pattern in CPU_FIGURE for match in pattern.findall(text)]
    assert figures, f"{path.name} quotes no CPU-per-sync figure"
    assert set(figures) == {measured_cpu_ms()}


def test_the_figure_patterns_find_what_the_docs_used_to_say() -> None:
    stale = "at ~6.4 ms of CPU per sync and measured (bench/results/throughput.json, 7.27 ms)."
    assert [m for p in CPU_FIGURE for m in p.findall(stale)] == ["6.4", "7.27"]
    # A cost added to a sync is not the figure.
    assert [m for p in CPU_FIGURE for m in p.findall("about 0.5 ms of worker CPU per sync")] == []


GENERATORS: dict[str, Callable[[], str]] = {
    "acc_": new_account_id,
    "ws_": new_workspace_id,
    "whe_": new_endpoint_id,
}


def _id_format(prefix: str) -> re.Pattern[str]:
    sample = GENERATORS[prefix]()
    return re.compile(re.escape(prefix) + f"[0-9a-f]{{{len(sample) - len(prefix)}}}")


def test_the_id_formats_are_the_generators() -> None:
    for prefix, generate in GENERATORS.items():
        assert all(_id_format(prefix).fullmatch(generate()) for _ in range(50))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_example_ids_have_the_real_format(path: Path) -> None:
    bad = []
    for prefix in GENERATORS:
        pattern = _id_format(prefix)
        for found in re.findall(rf"\b{re.escape(prefix)}[A-Za-z0-9_]+", path.read_text()):
            if not pattern.fullmatch(found):
                bad.append(found)
    # API keys: the whole key (dra_ + 43) or the 16-character prefix `apikey list` shows.
    for key in re.findall(rf"\b{KEY_PREFIX}[A-Za-z0-9_-]+", path.read_text()):
        if len(key) not in (16, len(KEY_PREFIX) + 43):
            bad.append(key)
    assert bad == []


# "issue 10", "issues 3 and 4", "issue #12", "#12" (Meta's error codes are written "(#200)").
ISSUE_NUMBER = re.compile(r"\bissues?\s+#?\d+|(?<![(\w&])#\d+\b", re.IGNORECASE)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_no_issue_numbers(path: Path) -> None:
    assert ISSUE_NUMBER.findall(path.read_text()) == []


def test_the_issue_pattern() -> None:
    assert ISSUE_NUMBER.findall("(issue 10) PR #80740, Issue #3; `(#200)`, (#10)") == [
        "issue 10",
        "#80740",
        "Issue #3",
    ]
