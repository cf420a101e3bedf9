"""A benchmark run's processes end with it, however it ends.

The benchmarks start a simulator, workers, beat and an API as children, each in its own process
group (`ops.testing.processes`), and stop them in `finally` blocks. Python runs those blocks on
an exception, but SIGTERM's default action ends the interpreter without them, and a worker left
behind keeps consuming the next run's queue. So, for the length of a run:

- SIGTERM and SIGINT raise SystemExit: every `finally` block on the way out runs;
- this process is the "child subreaper" (Linux prctl(2), PR_SET_CHILD_SUBREAPER): a grandchild
  whose parent died is re-parented here rather than to init, so it can still be found;
- at the end, whatever still descends from this process is sent SIGTERM by process group, and
  SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
SIGNALS = (signal.SIGTERM, signal.SIGINT)
GRACE_SECONDS = 20.0  # a worker's warm shutdown waits for the syncs in flight


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # Only the first signal unwinds; a second one must not cut short the `finally` blocks that
    # are stopping the children.
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only; False elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) from /proc/PID/stat; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (second field) may hold spaces and parentheses: split after its last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def descendants(root: int) -> dict[int, int]:
    """Live (not zombie) descendants of `root`: pid -> process group."""
    table: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None and stat[0] != "Z":
            table[int(entry.name)] = (stat[1], stat[2])
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, pgid) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = pgid
                frontier.append(pid)
    return found


def _reap() -> None:
    """Collect exited children (adopted orphans have no Popen to wait for them)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _signal(processes: dict[int, int], sig: signal.Signals) -> None:
    own = os.getpgrp()
    for pgid in {g for g in processes.values() if g != own}:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid, pgid in processes.items():
        if pgid == own:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def stop_descendants(grace: float = GRACE_SECONDS) -> list[int]:
    """SIGTERM every descendant's group, SIGKILL after `grace` seconds; the pids that were left."""
    me = os.getpid()
    left = descendants(me)
    if not left:
        return []
    _signal(left, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while (remaining := descendants(me)) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.1)
    if remaining:
        _signal(remaining, signal.SIGKILL)
        time.sleep(0.2)
    _reap()
    return sorted(left)


@contextlib.contextmanager
def owned_children() -> Iterator[None]:
    """Run a benchmark so that its children can't outlive it (see the module docstring)."""
    become_subreaper()
    previous = {sig: signal.signal(sig, _exit_on_signal) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        try:
            stop_descendants()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
