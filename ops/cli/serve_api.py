"""`dravo-sync api`: serve the HTTP API under uvicorn."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from ops.cli.command import app, fail, settings
from ops.foundation.logging import configure_logging

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_logged_app() -> FastAPI:
    """The app factory of each uvicorn worker process (`--workers` > 1): each process configures
    its logging, as the single-process path does, before it builds the app."""
    from api.asgi import create_app

    config = settings()
    configure_logging(config.log_level, config.log_json)
    return create_app(config)


@app.command("api")
def serve_api(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes serving the port (default 1: on 2 cores, Postgres needs the other core).",
        ),
    ] = 1,
) -> None:
    """Serve GET /v1/analytics/accounts; stops cleanly on SIGTERM or SIGINT."""
    config = settings()
    # Before anything can log: plain tracebacks without locals, JSON when DRAVO_LOG_JSON is set,
    # and uvicorn's own loggers (errors and the access log) through the same handler.
    configure_logging(config.log_level, config.log_json)
    from ops.startup import StartupRefused, require_readable_credentials

    try:
        require_readable_credentials(config, "api")
    except StartupRefused as exc:
        raise fail(str(exc), code=1) from None
    # Imported here so the other verbs don't pay for loading FastAPI.
    import uvicorn

    from api.asgi import create_app

    class Server(uvicorn.Server):
        """uvicorn's server, minus re-raising the stop signal once shut down.

        A requested stop is a clean exit (status 0) for supervisors, not a death by SIGTERM.
        """

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    uvicorn_config = uvicorn.Config(
        # Several workers each build the app from the environment (as create_app() does here).
        "ops.cli.serve_api:create_logged_app" if workers > 1 else create_app(config),
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        # httptools and uvloop (uvicorn[standard]): the pure-Python h11 parser and asyncio's loop
        # cost more CPU per request than the rest of the API's own work.
        http="httptools",
        loop="uvloop",
        ws="none",
        log_level=config.log_level.lower(),
        # Keep the handlers configure_logging set: uvicorn's default config installs its own.
        log_config=None,
        lifespan="on",
        server_header=False,
        # h11's own header cap (api.limits caps headers for httptools, which has none).
        h11_max_incomplete_event_size=config.api_max_header_bytes,
        # On a stop, in-flight requests (a refresh waits up to this long) may finish.
        timeout_graceful_shutdown=int(config.refresh_wait_seconds) + 5,
    )
    server = Server(uvicorn_config)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        # The supervisor restarts a dead worker and stops them all on SIGTERM or SIGINT.
        Multiprocess(uvicorn_config, sockets=[uvicorn_config.bind_socket()]).run()
        return
    # uvicorn stops accepting, finishes in-flight requests, then runs the lifespan shutdown.
    server.run()
    if not server.started:  # e.g. the port is taken: uvicorn has logged why
        raise typer.Exit(1)
