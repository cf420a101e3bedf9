"""Flower gets the broker URL from the environment: no secret in `ps` (docs/security.md, "Secrets on
command lines")."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from ops.testing.processes import free_port, start_cli, wait_until
from tests.conftest import redis_url

pytestmark = pytest.mark.e2e

SECRET = "flower-broker-secret-4f1d"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_flower_broker_url_is_not_on_its_command_line(test_env: dict[str, str], tmp_path: Path) -> None:
    # The private test Redis has no password; its `default` user (nopass) accepts any password,
    # so the URL can carry one that must never show up in argv.
    broker = redis_url().replace("redis://", f"redis://default:{SECRET}@")
    port = free_port()
    env = {**test_env, "REDIS_URL": broker, "DRAVO_FLOWER_PASSWORD": "", "DRAVO_FLOWER_USER": ""}
    flower = start_cli("flower", ["flower", "--port", str(port)], env, tmp_path, ready=None)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthcheck"), 30, 0.2, "flower listening")
        argv = Path(f"/proc/{flower.pid}/cmdline").read_bytes().split(b"\0")
        assert any(b"flower" in arg for arg in argv)
        assert not any(SECRET.encode() in arg for arg in argv)
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
        assert SECRET not in ps
        # ...and Flower does use it: its broker page names our Redis (password masked).
        page = httpx.get(f"http://127.0.0.1:{port}/broker", timeout=10).text
        assert redis_url().split("//")[1].split("/")[0] in page and SECRET not in page
    finally:
        flower.stop(10)
