"""Rate-limit signals in replies: reset times and usage headers, turned into datetimes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from adapters.base import BudgetObservation

# A reset time outside this range is a broken header, not a plan: keep retries sane.
MIN_WAIT = timedelta(seconds=1)
MAX_WAIT = timedelta(hours=24)


def utc(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def clamp(retry_at: datetime, now: datetime) -> datetime:
    return min(max(retry_at, now + MIN_WAIT), now + MAX_WAIT)


def retry_after(headers: httpx.Headers, now: datetime) -> datetime | None:
    """`Retry-After` as delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        seconds = int(raw) if len(raw) < 10 else int(MAX_WAIT.total_seconds())
        return clamp(now + timedelta(seconds=seconds), now)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return clamp(utc(when), now)


def epoch_header(headers: httpx.Headers, name: str, now: datetime) -> datetime | None:
    raw = headers.get(name)
    if raw is None or not raw.strip().isdigit():
        return None
    try:
        when = datetime.fromtimestamp(int(raw.strip()), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return clamp(when, now)


def int_header(headers: httpx.Headers, name: str) -> int | None:
    raw = headers.get(name)
    if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 12:
        return None
    return int(raw.strip())


def next_midnight_utc(now: datetime) -> datetime:
    """LinkedIn's daily quotas reset at 00:00 UTC."""
    today = utc(now).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


def x_rate_limit(headers: httpx.Headers, now: datetime) -> BudgetObservation | None:
    remaining = int_header(headers, "x-rate-limit-remaining")
    reset_at = epoch_header(headers, "x-rate-limit-reset", now)
    if remaining is None and reset_at is None:
        return None
    return BudgetObservation(scope="user", remaining=remaining, reset_at=reset_at)


def _usage_percent(entry: object) -> float | None:
    if not isinstance(entry, dict):
        return None
    values = [
        float(v)
        for k in ("call_count", "total_time", "total_cputime")
        if isinstance(v := entry.get(k), int | float) and not isinstance(v, bool)
    ]
    return max(values) if values else None


def _json_header(headers: httpx.Headers, name: str) -> object:
    raw = headers.get(name)
    if raw is None or len(raw) > 10_000:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def meta_buc_wait(headers: httpx.Headers, now: datetime) -> datetime | None:
    """`X-Business-Use-Case-Usage`'s `estimated_time_to_regain_access` is in minutes."""
    usage = _json_header(headers, "x-business-use-case-usage")
    if not isinstance(usage, dict):
        return None
    minutes = 0.0
    for entries in usage.values():
        for entry in entries if isinstance(entries, list) else []:
            value = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool) and value > minutes:
                minutes = float(min(value, 24 * 60))
    return clamp(now + timedelta(minutes=minutes), now) if minutes > 0 else None


def meta_usage(headers: httpx.Headers, now: datetime) -> list[BudgetObservation]:
    """Meta's usage headers, in percent of the limit (throttling starts at 100)."""
    observations: list[BudgetObservation] = []
    app = _usage_percent(_json_header(headers, "x-app-usage"))
    if app is not None:
        observations.append(BudgetObservation(scope="app", usage_percent=app))
    buc = _json_header(headers, "x-business-use-case-usage")
    if isinstance(buc, dict):
        percents = [
            p
            for entries in buc.values()
            for entry in (entries if isinstance(entries, list) else [])
            if (p := _usage_percent(entry)) is not None
        ]
        blocked = meta_buc_wait(headers, now)
        if percents or blocked:
            observations.append(
                BudgetObservation(
                    scope="user", usage_percent=max(percents) if percents else None, blocked_until=blocked
                )
            )
    return observations
