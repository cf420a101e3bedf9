"""Tokens for CLI verbs from standard input or the environment, never necessarily from argv.

A value on the command line is readable by every user of the machine (`ps`, /proc) and lands in
shell history: it still works, for scripts that do it today, but draws a warning on stderr.
"""

from __future__ import annotations

import os
import sys

import typer

from ops.cli.command import fail

STDIN = "-"


class StdinTokens:
    """Tokens read from standard input, one per line, in the order the options ask for them, and
    the warnings about tokens given on the command line."""

    def __init__(self) -> None:
        self._lines: list[str] | None = None
        # Printed once the command succeeds: bad input stays one line on stderr.
        self.warnings: list[str] = []

    def warn(self) -> None:
        for warning in self.warnings:
            typer.echo(warning, err=True)

    def next(self, option: str) -> str:
        if self._lines is None:
            if sys.stdin is None or sys.stdin.isatty():
                typer.echo(f"{option}: reading the token from standard input (one line)", err=True)
            self._lines = [] if sys.stdin is None else sys.stdin.read().splitlines()
        if not self._lines:
            raise fail(f"{option} -: standard input holds no (more) token")
        return self._lines.pop(0)


def secret_option(value: str | None, env_name: str | None, option: str, stdin: StdinTokens) -> str | None:
    """The secret an option pair (`--x` / `--x-env`) names; None when neither is given."""
    if value is not None and env_name is not None:
        raise fail(f"give {option} or {option}-env, not both")
    if env_name is not None:
        found = os.environ.get(env_name)
        if found is None:
            raise fail(f"{option}-env: environment variable {env_name} is not set")
        return found
    if value == STDIN:
        return stdin.next(option)
    if value is not None:
        stdin.warnings.append(
            f"warning: {option} on the command line is visible to other users of this machine (ps, "
            f"shell history); use '{option} -' (standard input) or {option}-env NAME"
        )
    return value
