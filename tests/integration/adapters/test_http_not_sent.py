"""A request that can't leave this process (a token HTTP can't carry) is `RequestNotSent`: no call,
no budget, no retry, for every platform; and every path segment an adapter builds is URL-quoted,
seen as the bytes a real server receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapters.base import PLATFORMS, Platform
from adapters.errors import PlatformError, RequestNotSent
from adapters.http import path_segment
from tests.integration.adapters.sim_harness import Harness

SECRET = "act.tenant-secret"
UNSENDABLE = [
    f"{SECRET}\nX-Injected: 1",  # h11 refuses a header with a line break
    f"{SECRET}\r",
    f"{SECRET}\x00",
    f"{SECRET}\u00e9",  # httpx can't encode a non-ASCII header
]
ACCOUNT_IDS: dict[Platform, str] = {
    "instagram": "17841400000000001",
    "facebook": "1122334455",
    "x": "2244994945",
    "linkedin": "urn:li:organization:2414183",
    "tiktok": "open-1",
}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("token", UNSENDABLE)
def test_an_unsendable_token_makes_no_call_spends_no_budget_and_is_not_retried(
    h: Harness, platform: Platform, token: str
) -> None:
    account = ACCOUNT_IDS[platform]
    h.seed(platform, account)
    with pytest.raises(RequestNotSent) as caught:
        h.fetch(platform, account, token=token)
    assert caught.value.calls == 0
    assert h.budget.acquired == 0  # asked for nothing: a budget is spent per call that goes out
    assert h.counts(platform, account) == {}  # the simulator saw nothing
    assert SECRET not in caught.value.message and "could not be sent" in caught.value.message


class _Recorder:
    """A stand-in Graph/X/TikTok host on a real socket that records each raw request path."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.paths.append(self.path)
                body = json.dumps({"error": {"message": "no such node", "code": 100}}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    found = _Recorder()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_a_graph_id_is_one_quoted_path_segment(h: Harness, recorder: _Recorder, platform: Platform) -> None:
    # An id stored before ids were checked at the way in: it can't walk to another node.
    adapter = h.adapter(platform, api_base=recorder.url, api_version="v21.0")
    with pytest.raises(PlatformError):  # whatever the 404 classifies as
        h.fetch(platform, "123/../../me?fields=x#", adapter=adapter, unknown_expiry=False)
    assert recorder.paths, "the request was sent"
    assert all(p.startswith("/v21.0/123%2F..%2F..%2Fme%3Ffields%3Dx%23") for p in recorder.paths), (
        recorder.paths
    )


@pytest.mark.parametrize("platform", ["x", "tiktok", "facebook"])
def test_a_configured_api_version_is_one_quoted_path_segment(
    h: Harness, recorder: _Recorder, platform: Platform
) -> None:
    adapter = h.adapter(platform, api_base=recorder.url, api_version="..")
    with pytest.raises(PlatformError):
        h.fetch(platform, ACCOUNT_IDS[platform], adapter=adapter)
    assert recorder.paths and all(p.startswith("/%2E%2E/") for p in recorder.paths), recorder.paths


def test_path_segment_quotes_everything_reserved_and_dot_segments() -> None:
    assert path_segment("17841400000000001") == "17841400000000001"
    assert path_segment("a/b?c#d e") == "a%2Fb%3Fc%23d%20e"
    assert path_segment("urn:li:organization:1") == "urn%3Ali%3Aorganization%3A1"
    assert [path_segment(s) for s in ("", ".", "..", "...x")] == ["", "%2E", "%2E%2E", "...x"]


@pytest.mark.parametrize("api_base", ["ftp://127.0.0.1:9", "http://", "http://[::1"])
def test_an_unusable_configured_url_is_ours_too(h: Harness, api_base: str) -> None:
    adapter = h.adapter("x", api_base=api_base)
    with pytest.raises(RequestNotSent, match="its URL is not valid") as caught:
        h.fetch("x", "1", adapter=adapter)
    assert caught.value.calls == 0 and h.budget.acquired == 0
