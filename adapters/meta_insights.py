"""Reading Meta insights (Instagram and Facebook Pages): isolating a metric the platform
refuses, reading each value on its own, and turning what was learnt into a result.

One bad metric fails a whole Graph insights request, so the group is split until the offender
is found; one value in a form we cannot read is left out and named, never failing the sync; a
permission refusal of the insights edge leaves the basic read standing (docs/platforms.md, the rules
that hold for every platform).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from adapters.base import AccountRef, FetchResult, MetricMemory, Platform, RejectedMetric, SyncContext
from adapters.errors import InsightsDenied, MetricUnavailable, PlatformBroken
from adapters.flow import fetch_result
from adapters.values import Normalised, as_dict

log = structlog.get_logger()


def collect_insights(
    out: Normalised,
    insights: Sequence[object],
    requested: Sequence[str],
    value_of: Callable[[Mapping[str, Any], str], int | None],
    label: str,
    what: str,
    why: str,
) -> None:
    """Put the value of each requested insights `data` item into `out`; warn about the rest.

    A requested metric with no data is left out, never zero (Meta sends `data: []` or an empty
    value for "nothing yet"). A value in a form we cannot read is left out and named in a
    warning: one unreadable metric never fails the sync (`out.unreadable`).
    """
    for raw in insights:
        item = as_dict(raw, f"{label} insights item")
        name = item.get("name")
        if not isinstance(name, str) or name not in requested or name in out.metrics:
            continue
        try:
            value = value_of(item, name)
        except PlatformBroken:
            out.unreadable.append(name)
            continue
        if value is not None:
            out.metrics[name] = value
    if out.unreadable:
        out.warnings.append(unreadable_warning(label, out.unreadable))
    missing = [m for m in requested if m not in out.metrics and m not in out.unreadable]
    if missing:
        out.warnings.append(f"{label} has no {what} for {', '.join(missing)} ({why})")


def unreadable_warning(label: str, metrics: Sequence[str]) -> str:
    return (
        f"{label} sent {', '.join(dict.fromkeys(metrics))} in a form we cannot read; "
        "left out this time (last value kept)"
    )


@dataclass
class InsightsOutcome:
    items: list[Any] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # metric -> why
    retirement: set[str] = field(default_factory=set)  # rejected with the retirement wording
    unread: list[str] = field(default_factory=list)  # isolation ran out of calls
    denied: InsightsDenied | None = None  # the insights edge refused for lack of a permission


# Bisecting 12 metrics costs about 2*log2(12) calls per bad one: enough for two bad ones.
MAX_ISOLATION_CALLS = 10


def read_insights(
    request: Callable[[Sequence[str]], Sequence[Any]],
    metrics: Sequence[str],
    max_extra_calls: int = MAX_ISOLATION_CALLS,
) -> InsightsOutcome:
    """Read `metrics`, isolating the ones the platform rejects.

    Instagram names the offender (`metric[2] must be one of ...`), so it is dropped at once;
    Facebook does not ("The value must be a valid insights metric"), so the group is bisected.
    """
    outcome = InsightsOutcome()
    pending: deque[list[str]] = deque([list(metrics)] if metrics else [])
    calls = 0
    while pending:
        group = pending.popleft()
        if not group:
            continue
        if calls > max_extra_calls:
            outcome.unread.extend(group)
            continue
        calls += 1
        try:
            outcome.items.extend(request(group))
        except InsightsDenied as exc:
            # A permission covers the whole edge: asking for fewer metrics changes nothing.
            outcome.denied = exc
            outcome.unread.clear()
            return outcome
        except MetricUnavailable as exc:
            if exc.metric in group or len(group) == 1:
                metric = exc.metric if exc.metric in group else group[0]
                outcome.rejected[metric] = exc.message
                if exc.retired:
                    outcome.retirement.add(metric)
                pending.appendleft([m for m in group if m != metric])
            else:
                middle = len(group) // 2
                pending.appendleft(group[middle:])
                pending.appendleft(group[:middle])
    return outcome


def insights_result(
    label: str,
    platform: Platform,
    account: AccountRef,
    context: SyncContext,
    out: Normalised,
    outcome: InsightsOutcome,
    memory: MetricMemory,
    metrics: Sequence[str],
) -> FetchResult:
    """Record newly refused metrics and build the result.

    - A metric refused in this sync is remembered for this account; the row is partial.
    - A metric this account was refused earlier is not requested; the row stays partial and the
      metric's last value is carried (until the refusal is re-checked).
    - A metric retired platform-wide (confirmed by enough workspaces) is not requested and only
      named once in a note; its absence does not make the row partial.
    - The insights edge refused for a permission: basic metrics kept, the warning names it.
    """
    for metric, reason in outcome.rejected.items():
        context.catalog.reject(
            account, RejectedMetric(platform, metric, reason, retirement=metric in outcome.retirement)
        )
        log.warning(
            "adapter.metric_rejected", platform=platform, metric=metric, account_id=account.account_id
        )
    out.check_readable(f"{label} metric")
    warnings = list(out.warnings)
    if outcome.denied is not None:
        warnings.append(outcome.denied.warning)
        log.info(
            "adapter.insights_denied",
            platform=platform,
            account_id=account.account_id,
            permission=outcome.denied.permission,
        )
    if outcome.rejected:
        warnings.append(f"{label} rejected the metric(s) " + ", ".join(sorted(outcome.rejected)))
    if outcome.unread:
        warnings.append(f"{label} metrics not read this time: " + ", ".join(outcome.unread))
    refused = [m for m in metrics if m in memory.refused and m not in memory.retired]
    if refused:
        warnings.append(refused_warning(label, refused))
    complete = not warnings
    retired = [m for m in metrics if m in memory.retired]
    if retired:
        warnings.append(f"{label} no longer provides " + ", ".join(retired))
    return fetch_result(out, warnings, complete=complete)


def refused_warning(label: str, metrics: Sequence[str]) -> str:
    return (
        f"{label} refused {', '.join(metrics)} for this account earlier; "
        "not requested this time (last value kept)"
    )
