"""A webhook receiver for tests: a real HTTP server on a free loopback port, in a thread.

It records every request (headers, body, arrival time) and answers `status_for(n)` for the n-th
request (0-based), 204 by default; `verify(secret)` checks every recorded request with the
`standardwebhooks` reference library and returns the parsed payloads.

A request whose body ends before its content-length (the sender died between writing the headers
and the body, as `kill -9` mid-delivery can do) is recorded with status 0: a real receiver never
answers it 2xx, so it is never counted as accepted.

Slow-loris mode (`trickle=seconds`): the reply's status line and headers are sent one byte every
`trickle` seconds, for at most `trickle_for` seconds, never completed: each read of the sender
gets a byte in time, so only a total deadline ends the request. Such requests are recorded with
status 0 too (`open_now()` counts those still being trickled).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

TRUNCATED = 0  # the status recorded for a request whose body was cut short


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    status: int


class Receiver:
    def __init__(
        self,
        status_for: Callable[[int], int] | None = None,
        delay: float = 0.0,
        trickle: float = 0.0,
        trickle_for: float = 300.0,
    ) -> None:
        self.status_for = status_for or (lambda n: 204)
        self.delay = delay
        self.trickle = trickle
        self.trickle_for = trickle_for
        self.received: list[Received] = []
        self._open = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    n = len(receiver.received)
                    complete = len(body) == length and not receiver.trickle
                    status = receiver.status_for(n) if complete else TRUNCATED
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, time.time(), status)
                    )
                if receiver.trickle and len(body) == length:
                    self.close_connection = True
                    receiver._slow_loris(self.wfile)
                    return
                if status == TRUNCATED:
                    self.close_connection = True
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def _slow_loris(self, out: Any) -> None:
        reply = b"HTTP/1.1 204 No Content\r\n" + b"x-slow: " + b"." * 10_000
        with self._lock:
            self._open += 1
        try:
            until = time.monotonic() + self.trickle_for
            for byte in reply:
                if time.monotonic() >= until:
                    return
                out.write(bytes([byte]))
                out.flush()
                time.sleep(self.trickle)
        except OSError:
            return  # the sender gave up and closed the connection: what the test wants
        finally:
            with self._lock:
                self._open -= 1

    def open_now(self) -> int:
        """Requests being trickled right now (slow-loris mode)."""
        with self._lock:
            return self._open

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def accepted(self) -> list[Received]:
        return [r for r in self.snapshot() if 200 <= r.status < 300]

    def verify(self, secret: str, only_accepted: bool = True) -> list[dict[str, Any]]:
        """Every (accepted) request's payload, each verified: WebhookVerificationError otherwise."""
        hook = Webhook(secret)
        rows = self.accepted() if only_accepted else self.snapshot()
        return [dict(hook.verify(r.body, r.headers)) | {"_webhook_id": r.headers["webhook-id"]} for r in rows]


@contextmanager
def running_receiver(
    status_for: Callable[[int], int] | None = None,
    delay: float = 0.0,
    trickle: float = 0.0,
    trickle_for: float = 300.0,
) -> Iterator[Receiver]:
    receiver = Receiver(status_for, delay, trickle, trickle_for)
    thread = threading.Thread(
        target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)
