"""Workers send no task events of their own; Flower turns them on and lists the tasks (docs/worker.md,
"Celery configuration").

The worker starts without `--task-events` (they cost ~10 % of its CPU per sync); Flower
broadcasts `enable_events` when it starts and every few seconds after, so a worker it watches
reports its tasks all the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.foundation.settings import get_settings
from ops.testing.processes import free_port, start_cli, wait_until
from tests.support.fixtures import Processes
from worker.celery_app import make_celery
from worker.names import REFRESH_QUEUE, SYNC_ACCOUNT

pytestmark = pytest.mark.e2e

USER, PASSWORD = "ops", "flower-test-password"


def _tasks(port: int) -> dict[str, Any]:
    try:
        reply = httpx.get(f"http://127.0.0.1:{port}/api/tasks", auth=(USER, PASSWORD), timeout=5)
    except httpx.HTTPError:
        return {}
    return dict(reply.json()) if reply.status_code == 200 else {}


def test_flower_lists_the_tasks_of_a_worker_started_without_events(
    processes: Processes, e2e_env: dict[str, str], log_dir: Path
) -> None:
    worker = processes.worker()
    port = free_port()
    env = {**e2e_env, "DRAVO_FLOWER_USER": USER, "DRAVO_FLOWER_PASSWORD": PASSWORD}
    flower = start_cli("flower", ["flower", "--port", str(port)], env, log_dir, ready=None)
    publisher = make_celery(get_settings())
    sent: list[str] = []

    def listed() -> bool:
        # An unknown account: the task runs, finds nothing to claim and ends at once. Sent again
        # until Flower has enabled the worker's events and shows one of them.
        result = publisher.send_task(SYNC_ACCOUNT, args=["acc_flower_probe"], queue=REFRESH_QUEUE)
        sent.append(result.id)
        tasks = _tasks(port)
        return any(task_id in tasks for task_id in sent[:-1])

    try:
        wait_until(listed, 40, 1.0, "Flower listing a task the worker ran")
        tasks = _tasks(port)
        shown = [tasks[i] for i in sent if i in tasks]
        assert any(t["name"] == SYNC_ACCOUNT and t["state"] == "SUCCESS" for t in shown), shown
        assert worker.alive()
    finally:
        publisher.close()
        flower.stop(10)
