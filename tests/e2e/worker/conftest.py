"""End-to-end worker tests: real `dravo-sync worker`/`beat` processes, Redis, Postgres, simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.tables import AccountSync
from ops.testing.processes import wait_until
from tests.support.accounts import new_workspace
from tests.support.fixtures import (  # noqa: F401
    e2e_env,
    e2e_redis,
    log_dir,
    processes,
    simulator,
    simulator_server,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def workspace(session_factory: sessionmaker[Session]) -> str:
    return new_workspace(session_factory)


def rows(sessions: sessionmaker[Session], ids: Iterable[str]) -> dict[str, AccountSync]:
    with sessions() as session:
        return {i: row for i in ids if (row := session.get(AccountSync, i)) is not None}


def wait_for_rows(
    sessions: sessionmaker[Session],
    ids: Iterable[str],
    done: Callable[[AccountSync], bool],
    timeout: float,
    what: str = "rows",
) -> dict[str, AccountSync]:
    wanted = list(ids)
    latest: dict[str, Any] = {}

    def check() -> bool:
        latest.clear()
        latest.update(rows(sessions, wanted))
        return len(latest) == len(wanted) and all(done(r) for r in latest.values())

    try:
        wait_until(check, timeout, 0.2, what)
    except AssertionError as exc:
        states = {i: (r.sync_status, r.error_message, r.deferred_note) for i, r in latest.items()}
        raise AssertionError(f"{exc}; rows: {states}") from None
    return dict(latest)


def attempted(row: AccountSync) -> bool:
    return row.last_attempt_at is not None
