"""A benchmark stopped with SIGTERM takes its simulator, workers and beat with it.

`python -m bench throughput --quick` runs as a user runs it, on a throw-away database and the
run's private Redis; once its first worker logged `worker.ready`, the benchmark gets SIGTERM. No
process it started, nor anything in their process groups, may survive it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.children import descendants
from ops.testing.processes import wait_until
from tests.conftest import ADMIN_URL, redis_url


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _log_of(pid: int) -> str:
    """What the child wrote so far: its stdout is its log file (ops.testing.processes)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/fd/1")).read_text(errors="replace")
    except OSError:
        return ""


def _alive_in(groups: set[int], pids: set[int]) -> list[str]:
    """Live (not zombie) processes that are in `pids` or in one of the process `groups`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        state, _, pgid = raw[raw.rindex(")") + 2 :].split()[:3]
        if state != "Z" and (int(entry.name) in pids or int(pgid) in groups):
            found.append(f"{entry.name} (group {pgid}): {_cmdline(int(entry.name))}")
    return found


@pytest.mark.timeout(420)
def test_sigterm_stops_every_child(tmp_path: Path) -> None:
    base = redis_url().rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DRAVO_BENCH_QUICK": "1",
        "DRAVO_BENCH_ADMIN_DATABASE_URL": ADMIN_URL,
        "DRAVO_BENCH_THROUGHPUT_REDIS_URL": f"{base}/13",
    }
    log = tmp_path / "bench.log"
    with log.open("wb") as out:
        bench = subprocess.Popen(
            [sys.executable, "-m", "bench", "throughput", "--quick"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so that the test can clean up after a failure
        )
    seen: dict[int, int] = {}
    try:

        def worker_ready() -> bool:
            assert bench.poll() is None, log.read_text()[-3000:]
            seen.update(descendants(bench.pid))
            return any("ops.cli worker" in _cmdline(pid) and "worker.ready" in _log_of(pid) for pid in seen)

        wait_until(worker_ready, 240, 0.5, "the benchmark's first worker")
        seen.update(descendants(bench.pid))
        assert any("ops.cli simulator" in _cmdline(pid) for pid in seen)

        bench.send_signal(signal.SIGTERM)
        assert bench.wait(90) == 128 + signal.SIGTERM, log.read_text()[-3000:]
        # The benchmark leads its own group (start_new_session): that group must be empty too.
        survivors = _alive_in(set(seen.values()) | {bench.pid}, set(seen))
        assert survivors == [], survivors
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(bench.pid, signal.SIGKILL)
        for pgid in set(seen.values()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        bench.wait(10)
