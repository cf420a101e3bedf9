"""ops/cli/display.py: tenant text made inert, and tables that give up columns by rank."""

from __future__ import annotations

from rich.console import Console

from ops.cli.display import Column, fitted_table, plain

COLUMNS = [
    Column("id"),
    Column("workspace", drop=1),
    Column("handle", drop=2),
    Column("status"),
    Column("token expires", drop=3),
]
ROW = ("acc_0123456789abcdef", "ws_0123456789abcdef", "someone", "requires_reconnect", "2027-01-30 00:00 UTC")


def _render(width: int, rows: list[tuple[str, ...]]) -> str:
    out = Console(width=width, record=True, emoji=False)
    out.print(fitted_table(out, "t", COLUMNS, rows))
    return out.export_text()


def test_plain_escapes_markup_and_drops_control_characters() -> None:
    out = Console(width=80, record=True)
    out.print(plain("[red]x[/red] \x1b[2J\x1b]0;title\x07 \u202egnp.exe \x00ok"))
    assert out.export_text().rstrip("\n") == "[red]x[/red] [2J]0;title gnp.exe ok"
    assert plain(None) == ""


def test_columns_go_by_rank_and_ids_and_statuses_stay_whole() -> None:
    wide = _render(200, [ROW])
    assert all(value in wide for value in ROW)
    narrow = _render(60, [ROW])
    assert "workspace" not in narrow and "acc_0123456789abcdef" in narrow
    assert "requires_reconnect" in narrow and "…" not in narrow
    assert all(len(line) <= 60 for line in narrow.splitlines())


def test_too_narrow_for_the_kept_columns_drops_the_frame_not_characters() -> None:
    narrow = _render(44, [ROW])
    assert "acc_0123456789abcdef" in narrow and "requires_reconnect" in narrow
    assert "┃" not in narrow and all(len(line) <= 44 for line in narrow.splitlines())
