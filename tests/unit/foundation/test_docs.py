"""The README must stay true: every setting and every CLI verb is documented there."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from ops.cli.command import load_commands
from ops.foundation.settings import PLATFORMS, environment_variables

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()


def _documented(env_name: str) -> bool:
    if f"`{env_name}`" in README or f"{env_name}`" in README:
        return True
    for platform in PLATFORMS:
        generic = env_name.replace(f"DRAVO_{platform.upper()}_", "DRAVO_<PLATFORM>_")
        if generic != env_name and generic in README:
            return True
    return False


def test_every_setting_is_in_the_readme() -> None:
    missing = []
    for env_name in environment_variables():
        if not _documented(env_name):
            missing.append(env_name)
    assert missing == []


def test_every_cli_verb_is_in_the_readme() -> None:
    group = typer.main.get_command(load_commands())
    verbs = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        verbs += [f"{name} {sub}" for sub in subcommands] if subcommands else [name]
    missing = [verb for verb in verbs if not re.search(rf"`dravo-sync {re.escape(verb)}\b", README)]
    assert missing == []
