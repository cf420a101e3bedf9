"""HTTP for webhook deliveries: an httpcore pool whose every TCP connection is checked against
the target policy (models.webhook_targets) at connect time, to the very address it connects to,
so a DNS answer that changed since the endpoint was created can't reach an internal address.

No redirects are followed (a 3xx is a failed attempt), no proxy from the environment is used.
Every attempt has a hard wall-clock deadline covering DNS, connect, TLS, the request and the
reply together: httpx/httpcore timeouts apply to each socket operation, so a receiver that sends
one byte a second never trips them. Here every operation's timeout is cut to what is left of the
attempt's deadline (`Deadline`), and the connect timeout is short. At most `MAX_BODY_BYTES` of a
reply are read: only its status counts.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import certifi
import httpcore

from models.webhook_targets import (
    Resolver,
    TargetRefused,
    TargetUnresolved,
    check_address,
    parse_target,
    resolve_within,
    system_resolver,
)

MAX_BODY_BYTES = 16 * 1024
USER_AGENT = "dravo-sync-webhooks/1"
# Writes go out in slices, so a receiver that reads slowly meets the deadline between two.
WRITE_SLICE = 16 * 1024

# The monotonic time the current attempt must be over by (per thread: httpcore's sync pool runs
# a request in the caller's thread, so the streams see the deadline of the request they serve).
_deadline: ContextVar[float | None] = ContextVar("webhook_attempt_deadline", default=None)


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` cut to what is left of the attempt's deadline; `expired` once nothing is."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class DeadlineStream(httpcore.NetworkStream):
    """A stream whose every operation waits at most until the attempt's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), WRITE_SLICE):
            self._inner.write(buffer[start : start + WRITE_SLICE], _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # CPython bounds the whole handshake by the socket timeout (one deadline, not per read).
        left = _left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves the host itself and connects only to allowed addresses (TargetRefused otherwise)."""

    def __init__(self, *, allow_loopback: bool, resolve: Resolver = system_resolver) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_loopback = allow_loopback
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            wait = _left(timeout, httpcore.ConnectTimeout)
            found = resolve_within(self._resolve, host, port, 5.0 if wait is None else wait)
        except TargetUnresolved:
            # DNS may recover: a failed connection (retried), not a refused target.
            raise httpcore.ConnectError("the host did not resolve") from None
        addresses = [check_address(a, allow_loopback=self._allow_loopback) for a in found]
        if not addresses:
            raise httpcore.ConnectError("the host did not resolve")
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    str(address), port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
                return DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@dataclass(frozen=True)
class Reply:
    status_code: int | None
    latency_ms: int
    error: str | None  # why there is no status (timeout, refused target...), never a secret
    refused: bool = False  # the target policy refused it: that will not change by retrying

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookTransport:
    def __init__(
        self,
        *,
        timeout: float,
        allow_loopback_http: bool,
        connect_timeout: float | None = None,
        attempt_deadline: float | None = None,
        max_connections: int = 100,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._timeout = timeout
        self._connect_timeout = min(connect_timeout or timeout, timeout)
        self._attempt_deadline = attempt_deadline or 3 * timeout
        self._allow = allow_loopback_http
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=max_connections,
            keepalive_expiry=30.0,
            retries=0,
            network_backend=GuardedBackend(allow_loopback=allow_loopback_http, resolve=resolve),
        )

    @property
    def attempt_deadline(self) -> float:
        return self._attempt_deadline

    def post(self, url: str, headers: dict[str, str], content: bytes) -> Reply:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            parse_target(url, allow_loopback_http=self._allow)
            timeout = self._timeout
            request_headers = [
                ("content-type", "application/json"),
                ("user-agent", USER_AGENT),
                *headers.items(),
            ]
            timeouts = {"connect": self._connect_timeout, "read": timeout, "write": timeout, "pool": timeout}
            with (
                deadline(self._attempt_deadline),
                self._pool.stream(
                    "POST", url, headers=request_headers, content=content, extensions={"timeout": timeouts}
                ) as response,
            ):
                read = 0
                for chunk in response.iter_stream():
                    read += len(chunk)
                    if read >= MAX_BODY_BYTES:
                        break
                return Reply(response.status, elapsed(), None)
        except TargetRefused as exc:
            return Reply(None, elapsed(), f"target refused: {exc}", refused=True)
        except httpcore.TimeoutException as exc:
            return Reply(None, elapsed(), f"timeout ({type(exc).__name__})")
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            return Reply(None, elapsed(), f"connection failed ({type(exc).__name__})")

    def close(self) -> None:
        self._pool.close()
