"""Real processes for end-to-end tests: a `dravo-sync` child, a Redis server, a free port.

Every child runs in its own process group with its output in a log file (never a pipe that
could fill up and block it), so a test can wait for a line, read the log on failure, stop the
child with SIGTERM or kill it with SIGKILL like an OOM killer would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis


class ProcessError(AssertionError):
    """A child did not start or stop as expected; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports (a worker group's exporters use base, base+1, ...)."""
    for _ in range(100):
        base = free_port()
        if base + count > 65535:
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no block of {count} free ports")


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1, what: str = "") -> None:
    """Poll `condition` until true; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(interval)


@dataclass
class ManagedProcess:
    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @classmethod
    def start(cls, name: str, args: Sequence[str], env: Mapping[str, str], log_path: Path) -> ManagedProcess:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(args),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: kill() reaches every child it forks
            )
        return cls(name=name, args=list(args), log_path=log_path, process=process)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, text: str, timeout: float = 30.0, *, after: int = 0) -> None:
        """Wait until `text` appears in the log past byte offset `after`."""

        def seen() -> bool:
            if not self.alive():
                raise ProcessError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            return text in self.log_text()[after:]

        try:
            wait_until(seen, timeout, 0.1, f"{text!r} in the log of {self.name}")
        except AssertionError as exc:
            raise ProcessError(f"{exc}\n--- {self.name} log ---\n{self.tail()}") from None

    def log_size(self) -> int:
        return len(self.log_text())

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL the group if it has not exited within `timeout`."""
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(10)
        self._reap_group()
        return int(self.process.returncode)

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no ack, like a crash."""
        self._signal(signal.SIGKILL)
        self.process.wait(10)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def _reap_group(self) -> None:
        # A child the leader forked (a prefork pool process) must not outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def cli_args(*args: str) -> list[str]:
    """`dravo-sync ARGS` run with this interpreter."""
    return [sys.executable, "-m", "ops.cli", *args]


def start_cli(
    name: str,
    args: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    ready: str | None,
    timeout: float = 30.0,
) -> ManagedProcess:
    proc = ManagedProcess.start(name, cli_args(*args), env, log_dir / f"{name}.log")
    if ready is not None:
        try:
            proc.wait_for_log(ready, timeout)
        except ProcessError:
            proc.stop(5)
            raise
    return proc


def start_worker(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    name: str = "worker",
    concurrency: int = 8,
    queues: str | None = None,
    timeout: float = 40.0,
) -> ManagedProcess:
    """A real `dravo-sync worker` (threads pool), returned once it logged `worker.ready`."""
    args = ["worker", f"--concurrency={concurrency}"]
    if queues:
        args.append(f"--queues={queues}")
    return start_cli(name, args, env, log_dir, "worker.ready", timeout)


def start_beat(
    env: Mapping[str, str], log_dir: Path, *, name: str = "beat", timeout: float = 30.0
) -> ManagedProcess:
    """A real `dravo-sync beat`, returned once its scheduler started."""
    return start_cli(name, ["beat"], env, log_dir, "beat.ready", timeout)


def start_simulator(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    port: int | None = None,
    latency_ms: int = 0,
    timeout: float = 30.0,
) -> tuple[ManagedProcess, str]:
    """`dravo-sync simulator` on a free port; returns the process and its base URL."""
    chosen = port or free_port()
    args = cli_args(
        "simulator", "--host", "127.0.0.1", "--port", str(chosen), "--latency-ms", str(latency_ms)
    )
    return start_listening(
        "simulator", args, env, log_dir / "simulator.log", chosen, "/_admin/health", timeout
    )


def start_listening(
    name: str,
    args: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    port: int,
    health_path: str,
    timeout: float = 30.0,
) -> tuple[ManagedProcess, str]:
    """A process that serves HTTP on `port`, returned once `health_path` answers 200."""
    proc = ManagedProcess.start(name, args, env, log_path)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if not proc.alive():
            raise ProcessError(f"{name} exited with {proc.process.returncode}:\n{proc.tail()}")
        try:
            return httpx.get(f"{base}{health_path}", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout, 0.1, f"{name}'s {health_path}")
    except AssertionError:
        proc.stop(5)
        raise
    return proc, base


def simulator_env(base_url: str) -> dict[str, str]:
    """Settings that point every adapter at the simulator (plain http: development only)."""
    return {
        "DRAVO_ENV": "development",
        "DRAVO_INSTAGRAM_API_BASE": f"{base_url}/instagram",
        "DRAVO_FACEBOOK_API_BASE": f"{base_url}/facebook",
        "DRAVO_X_API_BASE": f"{base_url}/x",
        "DRAVO_LINKEDIN_API_BASE": f"{base_url}/linkedin",
        "DRAVO_LINKEDIN_OAUTH_BASE": f"{base_url}/linkedin-oauth",
        "DRAVO_TIKTOK_API_BASE": f"{base_url}/tiktok",
    }


@dataclass
class RedisServer:
    """A private redis-server on a free port (for tests that restart or kill Redis)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                "--maxmemory-policy", "noeviction", "--timeout", "0",
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            wait_until(lambda: _pings(client), timeout, 0.05, f"redis-server on port {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        """Kill without saving (a crash or a restart that loses in-memory data)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
