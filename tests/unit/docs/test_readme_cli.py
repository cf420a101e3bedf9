"""The README's CLI table and `dravo-sync --help` name the same commands, with real options."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from ops.cli.command import load_commands

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()


def _cli_table() -> list[str]:
    """The first cell of each row of the table under '## CLI', without its backticks."""
    section = README.split("\n## CLI\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `dravo-sync")]
    return [row.split("` |", 1)[0].removeprefix("| `").replace("\\|", "|") for row in rows]


def _command_path(usage: str) -> str:
    """`dravo-sync account list [--workspace ID]` -> `account list`: the words before the first
    argument (upper case) or option."""
    words = []
    for word in usage.split()[1:]:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            break
        words.append(word)
    return " ".join(words)


def _app() -> dict[str, Any]:
    """Every command of the typer app by its path: `status`, `account list`, ..."""
    group: Any = typer.main.get_command(load_commands())
    commands: dict[str, Any] = {}
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            commands.update({f"{name} {sub}": c for sub, c in subcommands.items()})
        else:
            commands[name] = command
    return commands


def test_the_table_is_found() -> None:
    assert len(_cli_table()) >= 20


def test_readme_table_and_help_list_the_same_commands() -> None:
    documented = {_command_path(usage) for usage in _cli_table()}
    assert documented == set(_app())


def test_every_option_in_the_table_exists() -> None:
    commands = _app()
    unknown = []
    for usage in _cli_table():
        command = commands[_command_path(usage)]
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for option in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", usage):
            if option not in known:
                unknown.append(f"{_command_path(usage)}: {option}")
    assert unknown == []
