"""Several worker processes behind one `dravo-sync worker` (one per CPU core by default).

A threads-pool worker is bound to one core by the GIL (docs/benchmarks.md, benchmark 1), so a host
runs one per core. The children stay in our process group, so a terminal's Ctrl-C or a
`kill -9` of the group reaches them all; a SIGTERM or SIGINT sent to us alone (an orchestrator
stopping the main process) is passed on as SIGTERM, Celery's warm shutdown. If one child dies,
the others are stopped and we exit with its code, so the supervisor above restarts the unit.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from types import FrameType

import structlog

log = structlog.get_logger()


def run_worker_group(commands: Sequence[Sequence[str]], envs: Sequence[Mapping[str, str]]) -> int:
    children = [subprocess.Popen(list(cmd), env=dict(env)) for cmd, env in zip(commands, envs, strict=True)]
    stopping = False

    def stop(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker.group_started", processes=len(children), pids=[c.pid for c in children])

    exit_code = 0
    while any(child.poll() is None for child in children):
        for child in children:
            code = child.poll()
            if code is not None and not stopping:
                log.error("worker.child_exited", pid=child.pid, exit_code=code)
                exit_code = code or 1
                stop()
        time.sleep(0.2)
    return exit_code
