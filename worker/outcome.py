"""What a sync's outcome does to the account's cache row (docs/contract.md section 2), as pure functions.

    outcome                         sync_status          metrics             next_sync_at
    FetchResult, complete           synced               replaced            after_read
    FetchResult, incomplete         partial              merged over old     after_read
    RateLimited                     unchanged            unchanged           reset time (+ jitter)
    OutageHold (worker.outage)      unchanged            unchanged           when it became due
    RetryLater (a short outage)     failed               unchanged           backoff, never before
                                                                             retry_at
    ReconnectRequired/TokenExpired  requires_reconnect   unchanged           NULL (until reconnect)
    stored credentials unreadable   failed               unchanged           base interval, no backoff
    OperatorActionNeeded            failed (error log,   unchanged           backoff
                                    counted by cause)
    any other failure               failed               unchanged           backoff
    (a first sync that fails)       failed               {} (nothing yet)    backoff

A partial read (an unreadable metric, an insights permission not granted, a metric refused
this account earlier) keeps the last good value of every metric it could not read. An operator
problem (app review or product missing, credits spent, sunset API version) is never
requires_reconnect: the user reconnecting fixes nothing.

The last good metrics are never replaced by nothing; `error_message` is the adapter's
user-facing message (never a token or a body), or a generic line for our own bugs.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.base import FetchResult
from adapters.errors import (
    IntegrationBug,
    OperatorActionNeeded,
    OutageHold,
    PlatformError,
    RateLimited,
    ReconnectRequired,
    RetryLater,
    TokenExpired,
)
from ops.foundation import platforms as platform_registry
from worker import schedule
from worker.schedule import SchedulePolicy

PLATFORM_LABELS: dict[str, str] = platform_registry.labels()
EXPIRY_WARNING_WINDOW = timedelta(days=7)
EXPIRY_WARNING_SUFFIX = "; reconnect before then"
INTERNAL_ERROR_MESSAGE = "internal error while syncing this account; the operators have been alerted"
# What the tenant sees when the stored credentials can't be decrypted: the operator's problem (a key),
# told in words that give nothing about the key or its configuration away.
CREDENTIALS_UNREADABLE_MESSAGE = "credentials could not be read; the service operator has been alerted"
MAX_ERROR_MESSAGE = 300


@dataclass(frozen=True)
class PreviousRow:
    sync_status: str
    metrics: Mapping[str, Any]
    warnings: tuple[str, ...]
    consecutive_failures: int
    error_message: str | None = None
    last_updated_at: datetime | None = None
    stale_after: datetime | None = None


@dataclass(frozen=True)
class SyncFacts:
    """Everything besides the outcome that the row depends on."""

    now: datetime
    policy: SchedulePolicy
    expiry_warning: str | None = None
    secrets: tuple[str, ...] = ()  # strings that must never reach error_message


@dataclass(frozen=True)
class RowUpdate:
    sync_status: str
    metrics: dict[str, int]
    warnings: list[str]
    error_message: str | None
    last_updated_at: datetime | None
    stale_after: datetime | None
    next_sync_at: datetime | None
    consecutive_failures: int
    deferred_note: str | None
    event: str  # the log event: sync.succeeded, sync.partial, sync.rate_limited...
    snapshot: bool = False  # a successful read: also append to metric_snapshots
    # What this sync read (the snapshot's metrics): `metrics` of a partial read also carries the
    # older values it was merged over, which the history must not repeat as if read again.
    read_metrics: dict[str, int] = field(default_factory=dict)
    # The expiry of a token inside the warning window that can't be refreshed silently: the
    # outcome write emits `account.token_expiring` the first time it sees this expiry.
    token_expiring_at: datetime | None = None
    log_fields: dict[str, str] = field(default_factory=dict)

    def values(self, now: datetime) -> dict[str, Any]:
        """Column values for the UPDATE of account_sync (the lease is cleared by the caller)."""
        return {
            "sync_status": self.sync_status,
            "metrics": self.metrics,
            "warnings": self.warnings,
            "error_message": self.error_message,
            "last_updated_at": self.last_updated_at,
            "stale_after": self.stale_after,
            "next_sync_at": self.next_sync_at,
            "consecutive_failures": self.consecutive_failures,
            "deferred_note": self.deferred_note,
            "last_attempt_at": now,
        }


def expiry_warning(
    platform: str, expires_at: datetime | None, can_refresh: bool, now: datetime
) -> str | None:
    """ "LinkedIn access expires on 2026-12-01; reconnect before then" within 7 days of expiry."""
    if expires_at is None or can_refresh or expires_at - now > EXPIRY_WARNING_WINDOW:
        return None
    day = expires_at.astimezone(UTC).date().isoformat()
    return f"{PLATFORM_LABELS.get(platform, platform)} access expires on {day}{EXPIRY_WARNING_SUFFIX}"


def _warnings(base: Iterable[str], facts: SyncFacts) -> list[str]:
    kept = [w for w in base if not w.endswith(EXPIRY_WARNING_SUFFIX)]
    if facts.expiry_warning:
        kept.append(facts.expiry_warning)
    return list(dict.fromkeys(kept))


def _int_metrics(metrics: Mapping[str, Any]) -> dict[str, int]:
    # docs/contract.md section 3: integers only. bool is an int in Python and never a metric.
    return {k: v for k, v in metrics.items() if isinstance(v, int) and not isinstance(v, bool)}


def safe_message(message: str, secrets: Iterable[str]) -> str:
    """One bounded line, with any credential that slipped in cut out (defence in depth)."""
    text = " ".join(message.split())
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text if len(text) <= MAX_ERROR_MESSAGE else text[: MAX_ERROR_MESSAGE - 1] + "…"


def after_result(prev: PreviousRow, result: FetchResult, facts: SyncFacts, rng: random.Random) -> RowUpdate:
    fresh = _int_metrics(result.metrics)
    complete = result.complete
    metrics = fresh if complete else {**_int_metrics(prev.metrics), **fresh}
    return RowUpdate(
        sync_status="synced" if complete else "partial",
        metrics=metrics,
        warnings=_warnings(result.warnings, facts),
        error_message=None,
        last_updated_at=facts.now,
        stale_after=facts.now + facts.policy.freshness,
        next_sync_at=schedule.after_read(facts.policy, facts.now, rng),
        consecutive_failures=0,
        deferred_note=None,
        event="sync.succeeded" if complete else "sync.partial",
        snapshot=True,
        read_metrics=fresh,
    )


def _failure_event(error: BaseException) -> str:
    # Our request is wrong (retired metric, wrong token type, sunset API version, billing): it
    # fails the row like any failure, but an operator must hear of it, not find it in a warning.
    if isinstance(error, OperatorActionNeeded):
        return "sync.operator_action_needed"
    return "sync.integration_bug" if isinstance(error, IntegrationBug) else "sync.failed"


def after_error(prev: PreviousRow, error: BaseException, facts: SyncFacts, rng: random.Random) -> RowUpdate:
    kept = dict(prev.metrics)
    if isinstance(error, RateLimited):
        when = error.retry_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        held = isinstance(error, OutageHold)
        return RowUpdate(
            sync_status=prev.sync_status,
            metrics=kept,
            warnings=_warnings(prev.warnings, facts),
            error_message=prev.error_message,
            last_updated_at=prev.last_updated_at,
            stale_after=prev.stale_after,
            next_sync_at=(
                schedule.place_in_queue(facts.policy, prev.last_updated_at, facts.now)
                if held
                else schedule.after_rate_limit(error.retry_at, facts.now, rng)
            ),
            consecutive_failures=prev.consecutive_failures,
            deferred_note=(
                f"{error.limit}: next attempt after {when}"
                if held
                else f"{error.limit} reached; next attempt after {when}"
            ),
            event="sync.outage_held" if held else "sync.rate_limited",
            log_fields={"limit": error.limit, "retry_at": when},
        )
    message = safe_message(
        error.message if isinstance(error, PlatformError) else INTERNAL_ERROR_MESSAGE, facts.secrets
    )
    reconnect = isinstance(error, ReconnectRequired | TokenExpired)
    failures = prev.consecutive_failures + (0 if reconnect else 1)
    next_sync_at = None if reconnect else schedule.after_failure(facts.policy, facts.now, failures, rng)
    if isinstance(error, RetryLater) and next_sync_at is not None:
        # The platform named when it will answer again: asking sooner only spends a call.
        next_sync_at = max(next_sync_at, error.retry_at)
    return RowUpdate(
        sync_status="requires_reconnect" if reconnect else "failed",
        metrics=kept,
        warnings=_warnings(prev.warnings, facts),
        error_message=message,
        last_updated_at=prev.last_updated_at,
        stale_after=prev.stale_after,
        # No platform call for it until `account connect` reschedules it.
        next_sync_at=next_sync_at,
        consecutive_failures=failures,
        deferred_note=None,
        event="sync.reconnect_required" if reconnect else _failure_event(error),
        log_fields={
            "error": type(error).__name__,
            **({"cause": error.cause} if isinstance(error, OperatorActionNeeded) else {}),
        },
    )


def after_unreadable_credentials(prev: PreviousRow, facts: SyncFacts) -> RowUpdate:
    """Stored credentials the configured keys can't decrypt: no platform call was made.

    The account is not at fault, so it costs it no backoff: the failure count stays and the next
    attempt is one base interval away, so it syncs soon after the operator fixes the key.
    """
    return RowUpdate(
        sync_status="failed",
        metrics=dict(prev.metrics),
        warnings=_warnings(prev.warnings, facts),
        error_message=CREDENTIALS_UNREADABLE_MESSAGE,
        last_updated_at=prev.last_updated_at,
        stale_after=prev.stale_after,
        next_sync_at=facts.now + facts.policy.backoff_base,
        consecutive_failures=prev.consecutive_failures,
        deferred_note=None,
        event="sync.credentials_unreadable",
    )
