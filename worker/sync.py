"""One account's sync: claim the lease, call the adapter, write the outcome, tell waiters.

Three short transactions at most (claim; rotated credentials, if any; outcome) and none open
while the platform is being called. The claim and the outcome are one statement each (run in
autocommit: a statement is its own transaction). The outcome write is conditional on the lease, so a
duplicate or late task can never overwrite newer data.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import redis
import structlog

from adapters.base import AccountRef, Credentials, FetchResult, SyncContext
from adapters.errors import PlatformError
from models import sync_state
from models.crypto import CredentialsUnreadable
from models.sync_state import ClaimedAccount
from ops.foundation.metrics import record_operator_problem, record_outage_hold, record_sync
from worker.composition import WorkerDeps
from worker.names import refresh_lock_key, sync_done_channel
from worker.outage import Health, health_of
from worker.outcome import (
    PreviousRow,
    RowUpdate,
    SyncFacts,
    after_error,
    after_result,
    after_unreadable_credentials,
    expiry_warning,
)

log = structlog.get_logger()

Mode = Literal["dispatched", "refresh", "inline"]


@dataclass(frozen=True)
class SyncReport:
    account_id: str
    claimed: bool
    written: bool = False
    sync_status: str | None = None
    calls: int = 0


class LeaseGuardedSink:
    """`CredentialSink` that persists rotated credentials at once, only while we hold the lease."""

    def __init__(
        self, deps: WorkerDeps, account_id: str, lease_token: uuid.UUID, credential_version: int
    ) -> None:
        self._deps = deps
        self._account_id = account_id
        self._token = lease_token
        self._version = credential_version
        self._lock = threading.Lock()
        self.latest: Credentials | None = None

    def store(self, account: AccountRef, credentials: Credentials) -> None:
        blob = self._deps.cipher.encrypt(credentials)
        with self._deps.sessions.begin() as session:
            stored = sync_state.store_credentials(
                session,
                self._account_id,
                self._token,
                blob,
                credentials.expires_at,
                credential_version=self._version,
            )
        with self._lock:
            self.latest = credentials
        if not stored:
            # The account was reconnected (or our lease expired): its new credentials win.
            log.warning("sync.credentials_not_stored", account_id=self._account_id, platform=account.platform)


class SyncRunner:
    def __init__(self, deps: WorkerDeps, rng: random.Random | None = None) -> None:
        self._deps = deps
        self._rng = rng or random.SystemRandom()

    def run(self, account_id: str, lease_token: str | None, mode: Mode) -> SyncReport:
        deps = self._deps
        now = datetime.now(UTC)
        token = uuid.UUID(lease_token) if lease_token else None
        min_interval = (
            timedelta(seconds=deps.settings.refresh_min_interval_seconds) if mode == "refresh" else None
        )
        with deps.autocommit() as session:  # one statement: atomic by itself
            claim = sync_state.claim_for_sync(
                session, account_id, token, now, deps.lease, min_interval=min_interval
            )
        if claim is None:
            log.info("sync.skipped", account_id=account_id, mode=mode, reason="lease_not_acquired")
            if mode == "refresh":
                self._release_refresh(account_id)
            return SyncReport(account_id=account_id, claimed=False)
        started = time.perf_counter()
        health: Health | None = None
        try:
            update, calls, health = self._fetch(claim, now, mode)
            written = self._write(claim, update)
        finally:
            # An account that had read well before is known to work: its failure is the platform's.
            trusted = claim.last_updated_at is not None
            self._notify(account_id, claim.platform, health, claim.workspace_id, trusted)
        record_sync(
            claim.platform,
            update.event if written else "sync.lease_lost",
            calls,
            time.perf_counter() - started,
        )
        return SyncReport(account_id, True, written, update.sync_status, calls)

    def _fetch(
        self, claim: ClaimedAccount, now: datetime, mode: Mode
    ) -> tuple[RowUpdate, int, Health | None]:
        """The row update, the platform calls made, and what the outcome says of the platform."""
        deps = self._deps
        ref = AccountRef(
            account_id=claim.account_id,
            platform=claim.platform,  # type: ignore[arg-type]
            platform_account_id=claim.platform_account_id,
            auth=claim.auth,  # type: ignore[arg-type]
            handle=claim.handle,
        )
        previous = PreviousRow(
            sync_status=claim.sync_status,
            metrics=claim.metrics,
            warnings=tuple(claim.warnings),
            consecutive_failures=claim.consecutive_failures,
            error_message=claim.error_message,
            last_updated_at=claim.last_updated_at,
            stale_after=claim.stale_after,
        )
        policy = deps.policies[claim.platform]
        adapter = deps.adapters[claim.platform]
        try:
            credentials = deps.cipher.decrypt(claim.credentials)
        except CredentialsUnreadable:
            # Logged at error level by _write (the operator must act); the tenant sees a generic line.
            return after_unreadable_credentials(previous, SyncFacts(now=now, policy=policy)), 0, None
        sink = LeaseGuardedSink(deps, claim.account_id, claim.lease_token, claim.credential_version)
        context = SyncContext(
            credentials=credentials,
            credential_sink=sink,
            catalog=deps.catalog,
            # A refresh leaves the scheduled syncs' share of the app budget alone (worker.budget).
            budget=(
                deps.budget.for_refresh(deps.settings.scheduled_budget_reserve_percent / 100)
                if mode == "refresh"
                else deps.budget
            ),
            now=now,
            insights_window_days=deps.settings.insights_window_days,
        )
        result: FetchResult | None = None
        error: BaseException | None = None
        calls = 0
        try:
            result = adapter.fetch(ref, context)
            calls = result.calls
        except PlatformError as exc:
            error = exc
            calls = int(getattr(exc, "calls", 0))
        except Exception as exc:
            # The task boundary: a bug in an adapter must not leave the row leased and silent.
            log.exception("sync.crashed", account_id=claim.account_id, platform=claim.platform)
            error = exc
        current = sink.latest or credentials
        facts = SyncFacts(
            now=now,
            policy=policy,
            expiry_warning=expiry_warning(
                claim.platform, current.expires_at, adapter.can_refresh(ref, current), now
            ),
            secrets=tuple(
                s
                for s in (
                    current.access_token,
                    current.refresh_token,
                    credentials.access_token,
                    credentials.refresh_token,
                )
                if s
            ),
        )
        if result is not None:
            update = after_result(previous, result, facts, self._rng)
        else:
            assert error is not None
            update = after_error(previous, error, facts, self._rng)
        expires = current.expires_at
        if facts.expiry_warning and expires is not None and expires > now:
            update = replace(update, token_expiring_at=expires)
        return update, calls, health_of(error)

    def _write(self, claim: ClaimedAccount, update: RowUpdate) -> bool:
        deps = self._deps
        now = datetime.now(UTC)
        with deps.autocommit() as session:  # one statement: atomic by itself
            written = sync_state.write_outcome(
                session,
                claim.account_id,
                claim.lease_token,
                update.values(now),
                snapshot_at=update.last_updated_at if update.snapshot else None,
                snapshot_metrics=update.read_metrics if update.snapshot else None,
                credential_version=claim.credential_version,
                token_expiring_at=update.token_expiring_at,
            )
        fields = {"account_id": claim.account_id, "platform": claim.platform, **update.log_fields}
        if not written:
            log.warning("sync.lease_lost", **fields, outcome=update.sync_status)
            return False
        if update.event in ("sync.succeeded", "sync.partial"):
            log.info(update.event, **fields, metrics=len(update.metrics), warnings=len(update.warnings))
        elif update.event == "sync.integration_bug":
            log.error(update.event, **fields, error_message=update.error_message)
        elif update.event == "sync.credentials_unreadable":
            log.error(update.event, **fields, next_sync_at=_iso(update.next_sync_at))
        elif update.event == "sync.operator_action_needed":
            # Only the service's operator can fix it: loud, and counted on /metrics by cause.
            log.error(update.event, **fields, error_message=update.error_message)
            record_operator_problem(claim.platform, update.log_fields.get("cause", "client_config"))
        elif update.event == "sync.failed":
            log.warning(
                update.event,
                **fields,
                failures=update.consecutive_failures,
                next_sync_at=_iso(update.next_sync_at),
            )
        else:
            log.info(update.event, **fields, next_sync_at=_iso(update.next_sync_at))
        return True

    def _notify(
        self, account_id: str, platform: str, health: Health | None, workspace: str, trusted: bool
    ) -> None:
        """Wake refresh waiters, drop the single-flight marker and count the outcome towards an
        outage hold (worker.outage), in one round trip; Redis trouble is not fatal."""
        outage = self._deps.outage
        # Only a counted outcome adds a reply: without one, the last reply is PUBLISH's count of
        # listeners, which must not read as "a hold began".
        counted = health if outage.policy.enabled else None
        try:
            with self._deps.redis.pipeline(transaction=False) as pipe:
                pipe.delete(refresh_lock_key(account_id))
                pipe.publish(sync_done_channel(account_id), "done")
                if counted is not None:
                    outage.record(platform, counted, client=pipe, workspace=workspace, trusted=trusted)
                replies = pipe.execute()
        except redis.RedisError as exc:
            log.warning("sync.notify_failed", account_id=account_id, error=type(exc).__name__)
            return
        if counted is not None and replies[-1] == 1:
            hold = outage.policy.hold
            log.warning("platform.outage_hold", platform=platform, hold_seconds=hold.total_seconds())
            record_outage_hold(platform)

    def _release_refresh(self, account_id: str) -> None:
        # Another sync holds the lease and will publish when it is done; this refresh found
        # nothing to do and must not keep later refreshes out for the marker's whole TTL.
        try:
            self._deps.redis.delete(refresh_lock_key(account_id))
        except redis.RedisError as exc:
            log.warning("sync.notify_failed", account_id=account_id, error=type(exc).__name__)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None
