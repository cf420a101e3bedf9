"""The `dravo-sync` command: one typer app; each module under ops.cli adds its verbs."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.db import make_engine, make_session_factory
from ops.foundation.settings import ConfigurationError, Settings, get_settings

app = typer.Typer(
    name="dravo-sync",
    help="Keep official account metrics of connected social accounts fresh, and serve them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class CliError(Exception):
    """Bad input from the operator: one line on stderr, exit code 2."""


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        raise fail(str(exc)) from None


def engine() -> Engine:
    return make_engine(settings().database_url, pool_size=2, max_overflow=2)


@contextmanager
def transaction() -> Iterator[Session]:
    """One committed transaction; database trouble becomes a one-line error."""
    db = engine()
    try:
        with make_session_factory(db).begin() as session:
            yield session
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise fail(f"database error: {reason}", code=1) from None
    finally:
        db.dispose()


def load_commands() -> typer.Typer:
    """Import every verb module of this package (each registers its verbs on `app`)."""
    import ops.cli

    for module in pkgutil.iter_modules(ops.cli.__path__):
        # `__main__` runs the CLI when imported; `app` is this module.
        if module.name not in ("app", "__main__"):
            importlib.import_module(f"ops.cli.{module.name}")
    return app


def main() -> None:
    load_commands()
    try:
        app()
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
