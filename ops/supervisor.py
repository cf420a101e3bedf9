"""Runs the stack's processes as children of one foreground process (`dravo-sync up`).

Children get their own process group so a Ctrl-C reaches them only through us, in order: we stop
the producers (beat, API) before the consumers, and kill what does not stop in time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger()


@dataclass
class Child:
    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, env: dict[str, str], stop_timeout: float = 20.0) -> None:
        self._env = env
        self._stop_timeout = stop_timeout
        self.children: list[Child] = []

    def start(self, name: str, *args: str) -> Child:
        child = Child(name=name, args=[sys.executable, "-m", "ops.cli", *args])
        child.process = subprocess.Popen(child.args, env=self._env, start_new_session=True)
        self.children.append(child)
        log.info("up.started", process=name, pid=child.process.pid)
        return child

    def first_exited(self) -> Child | None:
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                return child
        return None

    def stop(self) -> None:
        """SIGTERM in reverse start order, then SIGKILL what is left after the timeout."""
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:
                _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout
        for child in reversed(self.children):
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("up.killed", process=child.name)
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
        log.info("up.stopped")


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it already exited
        os.killpg(process.pid, sig)
