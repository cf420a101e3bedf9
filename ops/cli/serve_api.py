"""`dravo-sync api`: serve the HTTP API under uvicorn."""

from __future__ import annotations

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

    # uvicorn handles SIGTERM/SIGINT itself: it stops accepting, finishes in-flight requests,
    # then runs the lifespan shutdown (pool and Redis connections closed).
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level=config.log_level.lower(),
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=int(config.refresh_wait_seconds) + 5,
    )
