"""`dravo-sync worker --processes N`: N Celery processes, each syncing, and one for webhooks (its
own queue and pool); one SIGTERM stops them all; a child that dies takes the group down (so the
supervisor above restarts it)."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.tables import AccountSync
from ops.testing.processes import ManagedProcess, cli_args, wait_until
from simulator.client import SimulatorClient
from tests.support.accounts import connect
from tests.support.fixtures import Processes

pytestmark = pytest.mark.e2e


def _children(leader: int) -> list[int]:
    """Live processes in the leader's process group, other than the leader."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != leader:
            try:
                if os.getpgid(int(entry.name)) == leader:
                    found.append(int(entry.name))
            except ProcessLookupError:
                continue
    return found


def _start_group(env: dict[str, str], log_dir: Path) -> ManagedProcess:
    group = ManagedProcess.start(
        "worker-group",
        cli_args("worker", "--processes", "2", "--concurrency", "4"),
        env,
        log_dir / "group.log",
    )
    # Two sync processes and the webhook process.
    wait_until(lambda: group.log_text().count("worker.ready") == 3, 60, 0.2, "three workers ready")
    return group


def test_two_processes_sync_and_stop_together(
    e2e_env: dict[str, str],
    simulator: SimulatorClient,
    processes: Processes,
    session_factory: sessionmaker[Session],
    workspace: str,
    tmp_path: Path,
) -> None:
    ids = []
    for n in range(6):
        sim = simulator.upsert_account("tiktok", f"group-{n}")
        ids.append(connect(session_factory, workspace, "tiktok", f"group-{n}", sim["access_token"]))
    group = _start_group(e2e_env, tmp_path)
    try:
        assert len({int(pid) for pid in re.findall(r"dravo-(\d+)@", group.log_text())}) == 3
        queues = sorted(
            arg.removeprefix("--queues=")
            for pid in _children(group.pid)
            for arg in Path(f"/proc/{pid}/cmdline").read_text().split("\0")
            if arg.startswith("--queues=")
        )
        # Webhooks have a process of their own; the sync processes don't consume them.
        assert queues.count("webhooks") == 1 and len(queues) == 3
        assert all("webhooks" not in q.split(",") for q in queues if q != "webhooks")
        processes.beat()

        def all_synced() -> bool:
            with session_factory() as session:
                return all(session.get_one(AccountSync, i).sync_status == "synced" for i in ids)

        wait_until(all_synced, 30, 0.5, "every account synced by the group")
        group.process.send_signal(signal.SIGTERM)  # the leader alone, as an orchestrator does
        assert group.process.wait(30) == 0
        wait_until(lambda: not _children(group.pid), 10, 0.2, "the children to stop")
    finally:
        group.stop(10)


def test_a_dead_child_stops_the_group(e2e_env: dict[str, str], tmp_path: Path) -> None:
    group = _start_group(e2e_env, tmp_path)
    try:
        children = _children(group.pid)
        assert children
        os.kill(children[0], signal.SIGKILL)
        assert group.process.wait(30) != 0
        wait_until(lambda: not _children(group.pid), 15, 0.2, "the other child to stop")
    finally:
        group.stop(10)
