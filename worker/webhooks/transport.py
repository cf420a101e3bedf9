"""HTTP for webhook deliveries: an httpcore pool whose every TCP connection is checked against
the target policy (models.webhook_targets) at connect time, to the very address it connects to,
so a DNS answer that changed since the endpoint was created can't reach an internal address.

No redirects are followed (a 3xx is a failed attempt), no proxy from the environment is used,
and every phase (pool wait, connect, write, read) has the configured timeout. At most
`MAX_BODY_BYTES` of a reply are read: only its status counts.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass

import certifi
import httpcore

from models.webhook_targets import (
    Resolver,
    TargetRefused,
    check_address,
    parse_target,
    system_resolver,
)

MAX_BODY_BYTES = 16 * 1024
USER_AGENT = "dravo-sync-webhooks/1"


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
        addresses = [check_address(a, allow_loopback=self._allow_loopback) for a in self._resolve(host, port)]
        if not addresses:
            raise TargetRefused(f"host {host!r} does not resolve")
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
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
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookTransport:
    def __init__(
        self,
        *,
        timeout: float,
        allow_loopback_http: bool,
        max_connections: int = 100,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._timeout = timeout
        self._allow = allow_loopback_http
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=max_connections,
            keepalive_expiry=30.0,
            retries=0,
            network_backend=GuardedBackend(allow_loopback=allow_loopback_http, resolve=resolve),
        )

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
            with self._pool.stream(
                "POST",
                url,
                headers=request_headers,
                content=content,
                extensions={
                    "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
                },
            ) as response:
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
