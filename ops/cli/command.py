"""The `dravo-sync` command: one typer app; each module under ops.cli adds its verbs."""

from __future__ import annotations

import importlib
import os
import pkgutil
import shlex
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.db import make_engine, make_session_factory
from models.roles import RoleSetupError, RoleUrls
from ops.foundation.settings import ConfigurationError, Settings, environment_variables, get_settings

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
    except RoleSetupError as exc:
        raise fail(str(exc), code=1) from None


# The verbs that run a long-lived process read only their real environment, never the run file:
# a server must not pick up a local trial's development settings.
LONG_RUNNING = frozenset({"up", "api", "worker", "beat", "flower", "simulator"})
RUN_ENV_NAME = "run.env"


def state_dir() -> Path:
    """Where `dravo-sync up` keeps its state: DRAVO_STATE_DIR, else the XDG state directory
    (https://specifications.freedesktop.org/basedir-spec/latest/)."""
    if given := os.environ.get("DRAVO_STATE_DIR"):
        return Path(given)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "dravo-sync"


def run_env_file() -> Path:
    return state_dir() / RUN_ENV_NAME


def write_run_env(env: Mapping[str, str]) -> Path:
    """Write the settings a `dravo-sync up` runs with, for the CLI in another terminal.

    Mode 0600 in a 0700 directory: it holds the run's encryption key (the public development
    key unless one was given) and the metrics token. One `NAME='value'` per line, so a shell can
    source it too.
    """
    names = set(environment_variables())
    path = run_env_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = [f"{name}={shlex.quote(value)}\n" for name, value in sorted(env.items()) if name in names]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT: set it again
    with os.fdopen(fd, "w") as out:
        out.writelines(lines)
    return path


def read_run_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Fill the settings `make run` used into `environ`, below what is already set there.

    Skipped when the environment chooses another kind of run (DRAVO_ENV other than development):
    tests and production never read a local trial's file. Skipped too when it names its own
    database (DATABASE_URL): the file's role URLs and keys belong to the trial's database, and
    mixing them would point one process at two databases.
    """
    if environ.get("DRAVO_ENV", "development") != "development" or "DATABASE_URL" in environ:
        return
    try:
        text = run_env_file().read_text()
    except OSError:
        return
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 1 and "=" in words[0]:
            name, _, value = words[0].partition("=")
            environ.setdefault(name, value)


def settings() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        message = str(exc)
        if "DRAVO_ENCRYPTION_KEY is required" in message:
            message = (
                "DRAVO_ENCRYPTION_KEY is not set and this is no development run: run `make run` "
                f"first (the CLI then reads its settings from {run_env_file()}), or export "
                "DRAVO_ENV=development, or set DRAVO_ENCRYPTION_KEY (see `dravo-sync keygen`)"
            )
        raise fail(message) from None


def role_urls(config: Settings) -> RoleUrls:
    """The role each process connects as (unset: the owner's DATABASE_URL), for models.roles."""
    return RoleUrls(
        api_read=config.api_read_database_url,
        api_write=config.api_write_database_url,
        worker=config.worker_database_url,
    )


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
    if len(sys.argv) > 1 and sys.argv[1] not in LONG_RUNNING:
        read_run_env()
    load_commands()
    app()
