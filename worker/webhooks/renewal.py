"""A running delivery task keeps what it holds: every few seconds, in a thread of its own, it
renews the leases of the deliveries it is sending and its endpoint's place in the sweep's active
set (`alive`). So however long an attempt takes, its deliveries are not claimed again, and the
sweep never hands its endpoint to a second task while the first still runs (docs/webhooks.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models import outbox

log = structlog.get_logger()


class LeaseRenewal:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        lease: timedelta,
        every: float,
        alive: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._lease = lease
        self._every = every
        self._alive = alive
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-lease-renewal", daemon=True)

    def hold(self, delivery_ids: list[int]) -> None:
        with self._lock:
            self._held.update(delivery_ids)

    def drop(self, delivery_ids: list[int]) -> None:
        with self._lock:
            self._held.difference_update(delivery_ids)

    def renew(self) -> None:
        with self._lock:
            held = sorted(self._held)
        if held:
            try:
                with self._sessions.begin() as session:
                    outbox.renew_leases(session, held, datetime.now(UTC) + self._lease)
            except SQLAlchemyError as exc:
                # The lease still covers one whole attempt; the next beat tries again.
                log.warning("webhook.lease_renewal_failed", error=type(exc).__name__)
        if self._alive is not None:
            self._alive()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.renew()

    def __enter__(self) -> LeaseRenewal:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
