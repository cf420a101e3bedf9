"""The worker's composition root: engine, Redis, HTTP client, adapters, budget and catalog.

Built once per process on first use (and reset in a forked prefork child by
`worker_process_init`), never at import: a forked child must not share its parent's sockets.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import timedelta

import httpx
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import PLATFORMS, PlatformAdapter
from adapters.http import build_http_client
from adapters.registry import build_adapters
from models.catalog import DbMetricCatalog
from models.crypto import TokenCipher
from models.db import make_engine, make_session_factory
from ops.foundation.settings import Settings
from worker.budget import RedisRateBudget, budgets_from_settings
from worker.outage import OutageDetector, OutagePolicy
from worker.schedule import SchedulePolicy


@dataclass
class WorkerDeps:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # For single-statement writes (the lease claim, the outcome): each statement is its own
    # transaction, which saves the BEGIN and COMMIT round trips of an explicit one.
    autocommit: sessionmaker[Session]
    redis: redis.Redis
    http: httpx.Client
    cipher: TokenCipher
    adapters: dict[str, PlatformAdapter]
    budget: RedisRateBudget
    outage: OutageDetector
    catalog: DbMetricCatalog
    policies: dict[str, SchedulePolicy]

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_seconds)

    def close(self) -> None:
        self.http.close()
        self.redis.close()
        self.engine.dispose()


def schedule_policies(settings: Settings) -> dict[str, SchedulePolicy]:
    return {
        p: SchedulePolicy(
            freshness=timedelta(seconds=settings.platform(p).freshness_seconds),
            margin_fraction=settings.schedule_margin_fraction,
            jitter_fraction=settings.schedule_jitter_fraction,
            backoff_base=timedelta(seconds=settings.backoff_base_seconds),
            max_backoff=timedelta(seconds=settings.max_backoff_seconds),
        )
        for p in PLATFORMS
    }


def outage_policy(settings: Settings) -> OutagePolicy:
    return OutagePolicy(
        min_failures=settings.outage_min_failures,
        failure_ratio=settings.outage_failure_ratio,
        window=timedelta(seconds=settings.outage_window_seconds),
        hold=timedelta(seconds=settings.outage_hold_seconds),
        probe_syncs=settings.outage_probe_syncs,
        min_workspaces=settings.outage_min_workspaces,
    )


def build_deps(settings: Settings, *, pool_size: int | None = None) -> WorkerDeps:
    # One DB connection per concurrent task is enough: no transaction spans a platform call.
    size = pool_size or min(max(settings.worker_concurrency // 2, 2), 20)
    engine = make_engine(settings.worker_url, pool_size=size, max_overflow=size)
    sessions = make_session_factory(engine)
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30
    )
    http = build_http_client(
        settings.http_timeout_seconds, settings.http_connect_timeout_seconds, settings.http_max_connections
    )
    configs = {p: settings.platform(p) for p in PLATFORMS}
    return WorkerDeps(
        settings=settings,
        engine=engine,
        sessions=sessions,
        autocommit=make_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT")),
        redis=client,
        http=http,
        cipher=TokenCipher(settings.encryption_keys),
        adapters={str(p): a for p, a in build_adapters(configs, http).items()},
        budget=RedisRateBudget(
            client,
            budgets_from_settings(settings),
            pause_percent=settings.budget_usage_pause_percent,
            pause_seconds=settings.budget_pause_seconds,
            probe_syncs=settings.outage_probe_syncs,
        ),
        outage=OutageDetector(client, outage_policy(settings)),
        catalog=DbMetricCatalog(
            sessions,
            cache_seconds=settings.catalog_cache_seconds,
            min_workspaces=settings.metric_retirement_min_workspaces,
        ),
        policies=schedule_policies(settings),
    )


_lock = threading.Lock()
_deps: WorkerDeps | None = None
_pid: int | None = None


def process_deps() -> WorkerDeps:
    """This process's dependencies, built on first use (thread-safe)."""
    global _deps, _pid
    with _lock:
        if _deps is None or _pid != os.getpid():
            from ops.foundation.settings import get_settings

            _deps = build_deps(get_settings())
            _pid = os.getpid()
        return _deps


def reset_process_deps() -> None:
    """Forget (without closing: the sockets belong to the parent) what a forked child inherited."""
    global _deps, _pid
    with _lock:
        _deps = None
        _pid = None


def close_process_deps() -> None:
    global _deps, _pid
    with _lock:
        if _deps is not None and _pid == os.getpid():
            _deps.close()
        _deps = None
        _pid = None
