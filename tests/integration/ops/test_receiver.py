"""The test receiver never counts a request whose body was cut short as accepted: a sender killed
between writing the headers and the body leaves such a request, and its signature can't match."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from ops.testing.processes import wait_until
from ops.testing.receiver import TRUNCATED, running_receiver


def test_a_request_cut_short_is_recorded_but_not_accepted() -> None:
    with running_receiver() as receiver:
        parts = urlsplit(receiver.url)
        with socket.create_connection((parts.hostname, parts.port)) as conn:
            conn.sendall(
                b"POST /hooks HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n"
                b"webhook-id: msg_cut\r\n\r\n" + b"{" * 10
            )
            conn.shutdown(socket.SHUT_WR)
            wait_until(lambda: len(receiver.snapshot()) == 1, 5, 0.02, "the request recorded")
        (row,) = receiver.snapshot()
        assert row.status == TRUNCATED and len(row.body) == 10
        assert receiver.accepted() == []
