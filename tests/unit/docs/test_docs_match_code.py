"""The docs quote what the code and the benchmarks say: one CPU-per-sync figure, ids of the real
format, and no references to an issue tracker a reader can't see."""

from __future__ import annotations

import json
import os
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


# "notes §4.1": a section of research notes that are not in the repository. Cite the heading of
# docs/platforms.md or the public page instead.
NOTES_SECTION = re.compile(r"\bnotes\s+§", re.IGNORECASE)

# Virtualenvs, caches and build output beside our files: not ours to check.
NOT_OURS = {"__pycache__", "build", "dist", "node_modules"}


def _code_files() -> list[Path]:
    """Every Python file of the tree, with the project's configuration and Makefile."""
    found = [ROOT / "pyproject.toml", ROOT / "Makefile"]
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in NOT_OURS]
        found.extend(Path(folder) / name for name in files if name.endswith(".py"))
    # This module's own examples of what the patterns catch are the one exception.
    return sorted(p for p in found if p != Path(__file__).resolve())


def _offences(paths: list[Path], pattern: re.Pattern[str]) -> list[str]:
    """`path:line: match` for each match; the whole text is searched, so a wrapped one is found too."""
    offences = []
    for path in paths:
        text = path.read_text()
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            offences.append(f"{path.relative_to(ROOT)}:{line}: {match.group()!r}")
    return offences


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_no_issue_numbers(path: Path) -> None:
    assert ISSUE_NUMBER.findall(path.read_text()) == []


def test_no_issue_numbers_in_code_tests_or_configuration() -> None:
    assert _offences(_code_files(), ISSUE_NUMBER) == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_no_citations_of_notes_outside_the_repo(path: Path) -> None:
    # The whole text: a citation may be wrapped between "notes" and its section.
    assert NOTES_SECTION.findall(path.read_text()) == []


def test_no_citations_of_notes_outside_the_repo_in_code() -> None:
    assert _offences(_code_files(), NOTES_SECTION) == []


def test_the_code_scan_sees_the_whole_tree() -> None:
    scanned = {p.relative_to(ROOT).parts[0] for p in _code_files()}
    assert {"adapters", "api", "models", "ops", "simulator", "worker", "bench", "tests"} <= scanned
    assert {"pyproject.toml", "Makefile"} <= scanned
    assert not any(part.startswith(".") for p in _code_files() for part in p.relative_to(ROOT).parts)


def test_the_issue_pattern() -> None:
    assert ISSUE_NUMBER.findall("(issue 10) PR #80740, Issue #3; `(#200)`, (#10)") == [
        "issue 10",
        "#80740",
        "Issue #3",
    ]


def test_the_notes_pattern() -> None:
    text = "(docs/platforms.md, notes §4.1); notes\n§6.6; RFC 6749 §5.2; release notes"
    assert NOTES_SECTION.findall(text) == ["notes §", "notes\n§"]
