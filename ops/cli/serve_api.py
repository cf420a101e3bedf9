"""`dravo-sync api`: serve the HTTP API under uvicorn."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from ops.cli.app import app, settings


@app.command("api")
def serve_api(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")] = 8000,
) -> None:
    """Serve GET /v1/analytics/accounts; stops cleanly on SIGTERM or SIGINT."""
    config = settings()
    # Imported here so the other verbs don't pay for loading FastAPI.
    import uvicorn

    from api.app import create_app

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

    server = Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=port,
            log_level=config.log_level.lower(),
            lifespan="on",
            server_header=False,
            # On a stop, in-flight requests (a refresh waits up to this long) may finish.
            timeout_graceful_shutdown=int(config.refresh_wait_seconds) + 5,
        )
    )
    # uvicorn stops accepting, finishes in-flight requests, then runs the lifespan shutdown.
    server.run()
    if not server.started:  # e.g. the port is taken: uvicorn has logged why
        raise typer.Exit(1)
