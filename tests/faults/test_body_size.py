"""A 600 MiB unauthenticated POST streamed at a real `dravo-sync api`: it is refused from its
headers, the API's memory stays flat and `/healthz` stays fast while the sender keeps pushing."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.api.conftest import start_api

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

MIB = 1024 * 1024
TOTAL = 600 * MIB


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Sender(threading.Thread):
    """Streams up to TOTAL bytes of body; stops when the server closes the connection."""

    def __init__(self, base_url: str, chunked: bool) -> None:
        super().__init__(daemon=True)
        host, port = base_url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.chunked = chunked
        self.sent = 0
        self.answer = b""

    def run(self) -> None:
        framing = "Transfer-Encoding: chunked" if self.chunked else f"Content-Length: {TOTAL}"
        head = (
            f"POST /v1/webhooks HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
        )
        block = b"a" * MIB
        piece = (f"{MIB:x}\r\n".encode() + block + b"\r\n") if self.chunked else block
        with socket.create_connection(self.address, timeout=30) as sock:
            sock.sendall(head.encode())
            try:
                while self.sent < TOTAL:
                    sock.sendall(piece)
                    self.sent += MIB
            except OSError:
                pass  # the server closed the connection: it won't read the rest
            with contextlib.suppress(OSError):
                self.answer = sock.recv(65536)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_huge_unauthenticated_body_leaves_the_api_flat_and_fast(
    faults_env: dict[str, str], log_dir: Path, chunked: bool
) -> None:
    api, base = start_api(faults_env, log_dir / "api.log")
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            for _ in range(20):  # warm: the first requests allocate what every request needs
                http.get("/healthz")
            rss_before = _rss_bytes(api.pid)
            sender = Sender(base, chunked)
            sender.start()
            latencies: list[float] = []
            peak = rss_before
            while sender.is_alive() and len(latencies) < 200:
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                latencies.append(time.monotonic() - started)
                peak = max(peak, _rss_bytes(api.pid))
                time.sleep(0.02)
            sender.join(60)
        assert not sender.is_alive()
        assert sender.answer.startswith(b"HTTP/1.1 401") or sender.answer.startswith(b"HTTP/1.1 413"), (
            sender.answer
        )
        # Refused from the headers: the connection was closed long before 600 MiB went through.
        assert sender.sent < TOTAL
        assert peak - rss_before < 32 * MIB, (rss_before, peak)
        assert not latencies or max(latencies) < 0.5, latencies
    finally:
        api.stop(15)
