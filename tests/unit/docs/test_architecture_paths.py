"""docs/architecture.md names only what exists: every path and module it names is in the repo, its
layer picture is the import-linter contract's, and its table says where each kind of change goes.

The page is where a contributor learns which files a change touches. When a folder moves or a
module is renamed, these tests name the stale mention instead of letting the page mislead.
"""

from __future__ import annotations

import ast
import re
import tomllib
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "architecture.md"

# The top-level packages a dotted name may start with (what `import` would find from the root).
PACKAGES = frozenset(p.parent.name for p in ROOT.glob("*/__init__.py"))

# A fenced block, also inside a list item (indented up to three spaces).
FENCE = re.compile(r"^ {0,3}```[^\n]*\n(.*?)^ {0,3}```", re.DOTALL | re.MULTILINE)
CODE_SPAN = re.compile(r"`([^`]+)`")
# A repo path as the page writes it: `worker/outcome.py`, `models/sql/`, `adapters/<platform>.py`,
# `README.md`. Not a URL path (`/v1/accounts`), nor code (`{"/x": routes()}`).
PATH = re.compile(r"[A-Za-z0-9_.<>*-]+(?:/[A-Za-z0-9_.<>*-]+)*/?")
PATH_SUFFIXES = (".py", ".sql", ".md", ".yml")
# A dotted name: `worker.refresh`, `adapters.flow.AdapterBase`, `tests.e2e.sixth.adapter:build`.
# Not part of a longer word, URL or path (`https://api.x.com` names no module `api.x`).
DOTTED = re.compile(r"(?<![\w./:<-])([a-z_][a-z0-9_]*(?:\.[A-Za-z_]\w*)+)(?::([A-Za-z_]\w*))?(?![\w/<-])")

KINDS_OF_CHANGE = (
    "A route",
    "A row field",
    "A metric key",
    "A platform error",
    "A row rule",
    "A schema change",
    "A CLI verb",
    "A gauge",
    "A setting",
    "A test helper",
    "A new platform",
)


@cache
def page() -> str:
    return PAGE.read_text()


def fenced_blocks(text: str) -> list[str]:
    return FENCE.findall(text)


def code_spans(text: str) -> list[str]:
    """Inline code of the page outside its fenced blocks; a span may wrap onto the next line."""
    return [" ".join(span.split()) for span in CODE_SPAN.findall(FENCE.sub("", text))]


def named_paths(text: str) -> set[str]:
    return {
        span
        for span in code_spans(text)
        if PATH.fullmatch(span) and not span.startswith(".") and ("/" in span or span.endswith(PATH_SUFFIXES))
    }


def named_modules(text: str) -> set[str]:
    """Dotted names (`module:attribute` too) of our packages, in code spans and fenced blocks."""
    found = set()
    for chunk in [*code_spans(text), *fenced_blocks(text)]:
        for dotted, attribute in DOTTED.findall(chunk):
            if dotted.split(".")[0] in PACKAGES:
                found.add(f"{dotted}:{attribute}" if attribute else dotted)
    return found


def path_problem(path: str) -> str | None:
    """None if the path exists; `<placeholder>` and `*` stand for any name, so one file must fit."""
    pattern = re.sub(r"<[^>]+>", "*", path.rstrip("/"))
    if "*" in pattern:
        matches = list(ROOT.glob(pattern))
        return None if matches else "matches no file"
    target = ROOT / pattern
    if path.endswith("/"):
        return None if target.is_dir() else "is no folder"
    return None if target.exists() else "does not exist"


def top_level_names(source: Path) -> set[str]:
    """What a module defines or imports at its top level: what `module.name` can refer to."""
    names: set[str] = set()
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def module_problem(name: str) -> str | None:
    """None if `a.b.c` is a module or package of the repo, or an attribute of the longest module
    prefix it has (`adapters.flow.AdapterBase`, `models.migrate.upgrade`, `x.y:build`)."""
    dotted, _, attribute = name.partition(":")
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if not (source.is_file() or base.is_dir()):
            continue
        rest = [*parts[cut:], *([attribute] if attribute else [])]
        if not rest:
            return None
        if source.is_file() and rest[0] in top_level_names(source):
            return None
        return f"{'.'.join(parts[:cut])} has no {rest[0]!r}"
    return "is no module of the repo"


def test_the_path_patterns_see_paths_and_modules_only() -> None:
    sample = (
        "`worker/outcome.py`, `models/sql/`, `README.md`, `adapters/<platform>.py`, `docs/x.yml`, "
        '`GET /v1/analytics/accounts`, `/x`, `{"/x": routes()}`, `.dist-info`, `sync.account`, '
        "`worker.refresh`, `https://api.x.com`, `sync.<name>`, "
        "`mastodon = tests.e2e.sixth.registry_entry:SPEC`\n"
        "```\n api   worker.refresh  ops.foundation\n```\n"
        '1. An item:\n\n   ```python\n   x = "`"  # adapters.x:build\n   ```\n\n`models/tables.py`\n'
    )
    assert named_paths(sample) == {
        "worker/outcome.py",
        "models/sql/",
        "README.md",
        "adapters/<platform>.py",
        "docs/x.yml",
        "models/tables.py",
    }
    assert named_modules(sample) == {
        "worker.refresh",
        "tests.e2e.sixth.registry_entry:SPEC",
        "ops.foundation",
        "adapters.x:build",
    }


def test_the_checks_catch_a_stale_name() -> None:
    assert path_problem("worker/outcome.py") is None
    assert path_problem("adapters/<platform>.py") is None
    assert path_problem("worker/outcomes.py") == "does not exist"
    assert path_problem("adapters/<platform>.sql") == "matches no file"
    assert path_problem("worker/outcome.py/") == "is no folder"
    assert module_problem("worker.refresh") is None
    assert module_problem("ops.testing") is None
    assert module_problem("adapters.flow.AdapterBase") is None
    assert module_problem("tests.e2e.sixth.registry_entry:SPEC") is None
    assert module_problem("worker.refreshing") == "worker has no 'refreshing'"
    assert module_problem("ops.foundation.platforms:NOTHING") == "ops.foundation.platforms has no 'NOTHING'"


@pytest.mark.parametrize("path", sorted(named_paths(page())))
def test_every_path_the_page_names_exists(path: str) -> None:
    assert path_problem(path) is None, f"docs/architecture.md names `{path}`, which {path_problem(path)}"


@pytest.mark.parametrize("name", sorted(named_modules(page())))
def test_every_module_the_page_names_exists(name: str) -> None:
    assert module_problem(name) is None, f"docs/architecture.md names `{name}`: {module_problem(name)}"


def import_layers() -> list[str]:
    """The layers of the import-linter contract in pyproject.toml, top first."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return list(contract["layers"])


def layer_picture() -> list[tuple[str, str]]:
    """The stack of the page's layer picture, top first: (label, what the line says) per line up
    to the first blank one; a line with an empty label column continues the layer above."""
    (picture,) = [block for block in fenced_blocks(page()) if "ops.foundation" in block]
    stack: list[tuple[str, str]] = []
    for line in picture.split("\n\n", 1)[0].splitlines():
        label, text = line[:16].strip(), line[16:]
        if label == "│":
            continue
        if label:
            stack.append((label, text))
        else:
            stack[-1] = (stack[-1][0], f"{stack[-1][1]} {text}")
    return stack


def test_the_layer_picture_is_the_import_contract() -> None:
    top, *below = import_layers()
    stack = layer_picture()
    assert [label for label, _ in stack] == ["entry points", *below]
    entry_points = {name.strip() for name in top.split(":")}
    named = {dotted for dotted, _ in DOTTED.findall(stack[0][1])}
    assert named == entry_points


def where_table() -> dict[str, list[str]]:
    """The table under "Where each kind of change goes": change -> its other cells."""
    section = page().split("\n## Where each kind of change goes\n", 1)[1].split("\n## ", 1)[0]
    rows = [
        line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Change")
    ]
    table = {}
    for row in rows:
        change, *cells = [cell.strip() for cell in row.strip().strip("|").split(" | ")]
        table[change] = cells
    return table


def test_the_table_has_one_row_per_kind_of_change() -> None:
    assert tuple(where_table()) == KINDS_OF_CHANGE


@pytest.mark.parametrize("change", KINDS_OF_CHANGE)
def test_each_row_names_files_in_order_and_the_test_that_changes(change: str) -> None:
    files, tests = where_table()[change]
    assert named_paths(files), f"{change}: no file to edit"
    named_tests = {path for path in named_paths(tests) if path.startswith("tests/")}
    assert named_tests, f"{change}: no test under tests/"


def imported_modules(source: Path) -> set[str]:
    """Every module a file imports, at any depth of its code (`from a.b import c` gives `a.b`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_ops_testing_stands_beside_the_service_as_the_picture_says() -> None:
    # No import-linter contract holds this (the picture's last line does), so it is checked here.
    service = [
        path
        for package in ("adapters", "api", "models", "ops", "simulator", "worker")
        for path in (ROOT / package).rglob("*.py")
        if (ROOT / "ops" / "testing") not in path.parents
    ]
    users = [
        str(p.relative_to(ROOT))
        for p in service
        if any(m.startswith("ops.testing") for m in imported_modules(p))
    ]
    assert users == [], "the service imports ops.testing"
    ours = {
        module
        for path in (ROOT / "ops" / "testing").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in PACKAGES and not module.startswith("ops.testing")
    }
    assert ours == set(), "ops.testing imports the service"
