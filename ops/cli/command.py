"""The `dravo-sync` command: one typer app; each module under ops.cli adds its verbs."""

from __future__ import annotations

import importlib
import pkgutil
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


def fail(message: str, code: int = 2) -> typer.Exit:
    """Bad input (exit 2) or trouble outside us (exit 1): one line on stderr."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def database_errors() -> Iterator[None]:
    """The one place the CLI turns a database it can't reach into a one-line error (exit 1)."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise fail(f"database error: {reason}", code=1) from None


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
        with database_errors(), make_session_factory(db).begin() as session:
            yield session
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
    app()
