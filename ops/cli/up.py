"""`dravo-sync up`: the whole stack in the foreground for a local trial (what `make run` calls)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import signal
import time
from types import FrameType
from typing import Annotated

import httpx
import psycopg
import typer
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from models import migrate
from models.crypto import TokenCipher
from models.db import make_engine, make_session_factory
from models.roles import RoleSetupError
from ops.cli.command import app, fail, role_urls, settings, write_run_env
from ops.demo import DemoSeed, seed_demo
from ops.foundation.logging import configure_logging
from ops.foundation.settings import PLATFORMS, Settings, get_settings
from ops.supervisor import Supervisor
from simulator.client import SimulatorClient

# Silent token refresh needs app credentials; the simulator accepts any.
DEMO_CLIENT = {
    f"DRAVO_{platform.upper()}_{part}": f"demo-{platform}-{part.lower()}"
    for platform in ("x", "linkedin", "tiktok", "instagram")
    for part in ("CLIENT_ID", "CLIENT_SECRET")
}


# The least-privilege role of each process (models/roles.py), unless its URL is given.
LOCAL_ROLES = {
    "DRAVO_API_READ_DATABASE_URL": "dravo_api_read",
    "DRAVO_API_WRITE_DATABASE_URL": "dravo_api_write",
    "DRAVO_WORKER_DATABASE_URL": "dravo_worker",
}


def role_database_urls(owner_url: str) -> dict[str, str]:
    """DATABASE_URL with each process's role as its user.

    With a password in DATABASE_URL (a server that checks passwords), each role gets one derived
    from it: stable across runs, so restarts and parallel runs agree, and known only to whoever
    knows the owner's. Without one (trust, as `make test` uses), the roles have none either.
    """
    owner = make_url(owner_url)
    urls = {}
    for variable, role in LOCAL_ROLES.items():
        password = None
        if owner.password:
            key = str(owner.password).encode()
            password = hmac.new(key, role.encode(), hashlib.sha256).hexdigest()
        urls[variable] = owner.set(username=role, password=password).render_as_string(hide_password=False)
    return urls


def _ensure_database(database_url: str) -> None:
    """Create the configured database if the server lacks it (a first run on a fresh machine)."""
    url = make_url(database_url)
    maintenance = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(url.database))))
            typer.echo(f"created database {url.database}", err=True)


def _wait(url: str, timeout: float, what: str, supervisor: Supervisor) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (exited := supervisor.first_exited()) is not None:
            supervisor.stop()
            raise fail(f"{exited.name} exited while starting; see its output above", code=1)
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    supervisor.stop()
    raise fail(f"{what} did not answer at {url} within {timeout:.0f} s", code=1)


def _seed(config: Settings, simulator_url: str) -> DemoSeed:
    engine = make_engine(config.database_url, pool_size=1, max_overflow=0)
    try:
        with SimulatorClient(simulator_url) as simulator:
            return seed_demo(make_session_factory(engine), TokenCipher(config.encryption_keys), simulator)
    finally:
        engine.dispose()


@app.command("demo")
def demo_seed(
    simulator_url: Annotated[
        str, typer.Option("--simulator-url", help="The running simulator the demo accounts live on.")
    ] = "http://127.0.0.1:8900",
) -> None:
    """Seed the demo workspace (what `up` does) and print a new API key: compose's one-shot `demo`."""
    config = settings()
    try:
        seed = _seed(config, simulator_url)
    except (SQLAlchemyError, httpx.HTTPError) as exc:
        raise fail(f"can't seed the demo: {str(exc).splitlines()[0]}", code=1) from None
    typer.echo(
        f"demo workspace {seed.workspace_id}, {len(seed.account_ids)} accounts; API key (shown once):\n\n"
        f"  {seed.api_key}\n"
    )


@app.command("up")
def up(
    host: Annotated[
        str, typer.Option("--host", help="Interface the API, Flower and the simulator use.")
    ] = "127.0.0.1",
    api_port: Annotated[int, typer.Option("--api-port")] = 8000,
    flower_port: Annotated[int, typer.Option("--flower-port")] = 5555,
    simulator_port: Annotated[int, typer.Option("--simulator-port")] = 8900,
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Seed the demo workspace.")] = True,
) -> None:
    """Run the whole stack (simulator, worker, beat, API, Flower) with demo data; Ctrl-C stops it."""
    os.environ.setdefault("DRAVO_ENV", "development")
    simulator_url = f"http://{host}:{simulator_port}"
    env = {**os.environ, **{k: v for k, v in DEMO_CLIENT.items() if k not in os.environ}}
    for platform in PLATFORMS:
        env.setdefault(f"DRAVO_{platform.upper()}_API_BASE", f"{simulator_url}/{platform}")
    env.setdefault("DRAVO_LINKEDIN_OAUTH_BASE", f"{simulator_url}/linkedin-oauth")
    # /metrics is served only behind a token (api.metrics); a trial gets a fresh one.
    env.setdefault("DRAVO_METRICS_TOKEN", secrets.token_urlsafe(24))
    env.setdefault("DATABASE_URL", settings().database_url)
    for variable, url in role_database_urls(env["DATABASE_URL"]).items():
        env.setdefault(variable, url)
    if env.get("DRAVO_ENV") == "development":
        # A local trial's webhook receiver listens on loopback: the worker and the API of the
        # stack accept it, as `DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP=true dravo-sync webhook create` does.
        env.setdefault("DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    os.environ.update(env)
    get_settings.cache_clear()  # read again, with the role URLs
    config = settings()
    configure_logging(config.log_level, config.log_json)  # the supervisor's own lines too

    try:
        _ensure_database(config.database_url)
        migrate.upgrade(config.database_url, roles=role_urls(config))
    except RoleSetupError as exc:
        raise fail(
            f"{exc} (DATABASE_URL's role needs CREATEROLE; or set DRAVO_API_READ_DATABASE_URL, "
            "DRAVO_API_WRITE_DATABASE_URL and DRAVO_WORKER_DATABASE_URL to DATABASE_URL: one role for all)",
            code=1,
        ) from None
    except (psycopg.Error, SQLAlchemyError) as exc:
        raise fail(f"can't prepare the database: {str(exc).splitlines()[0]}", code=1) from None
    # For the CLI in another terminal (ops.cli.command.read_run_env): no exports needed there.
    run_env = write_run_env(env)

    supervisor = Supervisor(env)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    supervisor.start("simulator", "simulator", "--host", host, "--port", str(simulator_port))
    _wait(f"{simulator_url}/_admin/health", 30, "the simulator", supervisor)
    # The worker command runs the sync processes and, beside them, the webhook process.
    supervisor.start("worker", "worker")
    supervisor.start("beat", "beat")
    supervisor.start("api", "api", "--host", host, "--port", str(api_port))
    supervisor.start("flower", "flower", "--host", host, "--port", str(flower_port))
    api_url = f"http://{host}:{api_port}"
    _wait(f"{api_url}/healthz", 60, "the API", supervisor)

    if demo:
        seed = _seed(config, simulator_url)
        typer.echo(
            "\n"
            f"dravo-sync is up: API {api_url}  Flower http://{host}:{flower_port}  simulator {simulator_url}\n"
            f"demo workspace {seed.workspace_id}, {len(seed.account_ids)} accounts; API key (shown once):\n\n"
            f"  {seed.api_key}\n\n"
            "Try:\n\n"
            f"  curl -s -H 'Authorization: Bearer {seed.api_key}' {api_url}/v1/analytics/accounts\n\n"
            "Metrics (DRAVO_METRICS_TOKEN):\n\n"
            f"  curl -s -H 'Authorization: Bearer {env['DRAVO_METRICS_TOKEN']}' {api_url}/metrics\n\n"
            f"The CLI in another terminal reads this run's settings from {run_env} (no exports needed):\n\n"
            "  dravo-sync status\n\n"
            "Press Ctrl-C to stop everything.\n"
        )

    while not stopping:
        if (exited := supervisor.first_exited()) is not None:
            typer.echo(f"error: {exited.name} exited; stopping the stack", err=True)
            supervisor.stop()
            raise typer.Exit(1)
        time.sleep(0.5)
    typer.echo("stopping...", err=True)
    supervisor.stop()
