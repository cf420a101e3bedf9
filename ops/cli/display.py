"""Tables that fit the operator's terminal, and tenant text printed as the text it is.

Handles, URLs and names come from tenants. Printed through Rich unescaped, `[red]x[/red]` would
be read as markup and `\\x1b[2J` (ESC, then "clear the screen") would reach the terminal; `plain`
makes them inert. Tables drop their least important columns, never the id or the status, until
they fit the width, and fold (never cut) what they keep.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

# C0 and C1 control characters (ESC opens every terminal control sequence), and the Unicode
# bidirectional overrides that make a line show in another order than it is written
# (https://trojansource.codes/).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# Without a terminal or COLUMNS, output goes to a pipe or a file: whole rows, one per line.
PIPE_WIDTH = 200
# The narrowest a folding column (a URL, a handle, a time) is squeezed to before it is dropped.
FOLD_WIDTH = 12
UNBOUNDED = 100_000


def plain(text: str | None) -> str:
    """Tenant text as written: control characters removed, Rich markup escaped."""
    return escape(_CONTROL.sub("", text or ""))


def console() -> Console:
    """The terminal's width (or COLUMNS); emoji codes such as `:fire:` stay text."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console(emoji=False)
    return Console(emoji=False, width=PIPE_WIDTH)


@dataclass(frozen=True)
class Column:
    """One column; `drop` ranks the columns given up first (1 first) when the table is too
    wide, None keeps it always. A kept column's cells are never wrapped (ids, statuses) unless
    `wrap` says so; the others fold onto more lines rather than lose characters."""

    header: str
    drop: int | None = None
    justify: Literal["left", "right"] = "left"
    wrap: bool | None = None

    @property
    def folds(self) -> bool:
        return self.drop is not None if self.wrap is None else self.wrap


def fits(out: Console, probe: Table) -> bool:
    """Whether a table fits the console without cutting a kept cell; `probe` is the table with
    its folding columns capped at FOLD_WIDTH (Rich measures a URL as one unbreakable word)."""
    # Measured without the console's limit: Rich caps a measurement at the width it is given.
    unbounded = out.options.update_width(UNBOUNDED)
    return Measurement.get(out, unbounded, probe).minimum <= out.width


def fitted_table(out: Console, title: str, columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> Table:
    """A table of `columns` minus those dropped, by rank, until it fits `out`; when even the
    kept ones don't, a borderless one (two columns less of frame each)."""
    cells = [list(row) for row in rows]
    shown = list(range(len(columns)))
    droppable = [i for _, i in sorted((c.drop, i) for i, c in enumerate(columns) if c.drop is not None)]
    while not fits(out, _table(title, columns, cells, shown, compact=False, probe=True)):
        if not droppable:
            return _table(title, columns, cells, shown, compact=True)
        shown.remove(droppable.pop(0))
    return _table(title, columns, cells, shown, compact=False)


def _table(
    title: str,
    columns: Sequence[Column],
    cells: list[list[str]],
    shown: list[int],
    *,
    compact: bool,
    probe: bool = False,
) -> Table:
    table = (
        Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
        if compact
        else Table(title=title)
    )
    for index in shown:
        column = columns[index]
        table.add_column(
            column.header,
            justify=column.justify,
            overflow="fold",
            no_wrap=not column.folds,
            max_width=FOLD_WIDTH if probe and column.folds else None,
        )
    for row in cells:
        table.add_row(*(row[index] for index in shown))
    return table
