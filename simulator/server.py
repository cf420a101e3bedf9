"""Running the simulator: in the foreground (`run`, used by `dravo-sync simulator`) or in a
background thread for tests and benchmarks (`running_simulator`)."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager

import structlog
import uvicorn

from simulator.routes import create_app

log = structlog.get_logger()


def _config(latency_ms: float | None, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(latency_ms),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        # Many short connections from a benchmark: keep idle ones around a little longer.
        timeout_keep_alive=30,
        backlog=4096,
    )


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after a graceful shutdown; we return normally instead."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run(host: str, port: int, latency_ms: float | None = None) -> None:
    """Serve until SIGINT or SIGTERM, drain open connections, then return."""
    log.info("simulator.starting", host=host, port=port, latency_ms=latency_ms)
    _Server(_config(latency_ms, host, port)).run()
    log.info("simulator.stopped", host=host, port=port)


@contextmanager
def running_simulator(latency_ms: float | None = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """A simulator on a free port in a background thread; yields its base URL and stops it cleanly."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(latency_ms, host, port))
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="dravo-simulator", daemon=True
    )
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the simulator failed to start")
            threading.Event().wait(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
