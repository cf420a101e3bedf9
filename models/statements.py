"""SQL statements kept in `models/sql/*.sql`, and the one way they are turned into text to send.

A statement file is plain SQL with `:name` bound parameters. Two conventions keep the Python side
to picking, not building:
- a line ending in `-- when <name>` is an optional filter, kept only when `<name>` is given;
- `$name` is a constant rendered once when the file is loaded (e.g. the published metric order),
  via `string.Template`, so the SQL file and the Python table it comes from can't drift apart.
Every other `--` comment is dropped (some tools flatten a statement to one line), so the text
sent to PostgreSQL is the statement alone. The async reads send it through psycopg directly,
in psycopg's `%(name)s` style (`psycopg_text`).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from string import Template

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

__all__ = ["SqlStatement", "load_statement", "psycopg_text"]

_WHEN = re.compile(r"\s*--\s*when\s+([a-z_]+)\s*$")
_COMMENT = re.compile(r"\s*--.*$")


class SqlStatement:
    """One statement file: its optional filter lines, and the text for a set of given filters."""

    def __init__(self, source: str, constants: dict[str, str]) -> None:
        self._lines: list[tuple[str | None, str]] = []
        for line in Template(source).substitute(constants).splitlines():
            when = _WHEN.search(line)
            if when is not None:
                self._lines.append((when.group(1), line[: when.start()]))
                continue
            # The files hold no string literal with `--` in it, so this only drops comments.
            kept = _COMMENT.sub("", line)
            if kept.strip():
                self._lines.append((None, kept))
        self.filters = frozenset(name for name, _ in self._lines if name is not None)

    @functools.cache  # noqa: B019 - a handful of filter sets per statement, for the process's life
    def text(self, given: frozenset[str]) -> str:
        """The statement with the `-- when` lines of `given` kept and the others dropped."""
        unknown = given - self.filters
        if unknown:
            raise ValueError(f"no such optional filter: {sorted(unknown)}")
        return "\n".join(line for name, line in self._lines if name is None or name in given)


def load_statement(name: str, constants: dict[str, str] | None = None) -> SqlStatement:
    """`models/sql/<name>.sql` (shipped as package data) with its `$constants` rendered."""
    source = resources.files("models").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    return SqlStatement(source, constants or {})


@functools.lru_cache(maxsize=64)
def psycopg_text(sql: str) -> bytes:
    """A `:name` statement (as the statement files and `models.queries` write them) in psycopg's
    `%(name)s` style, for a statement run on a psycopg connection without SQLAlchemy."""
    dialect = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]
    return str(text(sql).compile(dialect=dialect)).encode()
