"""What one API process holds: built by the lifespan (the composition root), torn down with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis
import redis.asyncio as aredis
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import sessionmaker

from api.gauges import FreshnessGauges
from api.readpool import ReadConnections, make_read_pool
from api.reads import KEY_USE_THREADS, ApiReads, KeyUseRecorder
from api.webhook_gauges import WebhookCollector
from api.writes import ApiWrites, WriteLimits
from models.auth import JwtPolicy
from models.crypto import TokenCipher
from models.db import make_session_factory
from ops.foundation.settings import Settings
from worker.refresh import RefreshService, build_refresh_service

# Redis calls of a request must fail fast when Redis is down, not hang the request.
REDIS_TIMEOUT_SECONDS = 2.0
# The read pool's connections. On 2 cores Postgres is saturated well before 8 queries run at once;
# more would only queue inside Postgres and add latency.
READ_CONCURRENCY = 8
# The gauges' background queries (api.gauges): one at a time, and the webhook collector's.
GAUGE_CONNECTIONS = 2
# The asyncio Redis client's connections: the pub/sub subscription holds one, each call borrows one
# for well under a millisecond.
ASYNC_REDIS_CONNECTIONS = 16
# Of the read pool's READ_CONCURRENCY connections, the refresh service's own reads (rows to plan,
# completion polls) may hold at most this many, so a refresh storm can't queue everyone's lists.
REFRESH_READ_SHARE = 3


def session_options(settings: Settings | None) -> str:
    """Postgres options of every API connection: read-only, and no unbounded wait (docs/api.md)."""
    options = ["-c default_transaction_read_only=on"]
    if settings is not None:
        options.append(f"-c statement_timeout={_ms(settings.api_statement_timeout_seconds)}")
        options.append(f"-c lock_timeout={_ms(settings.api_lock_timeout_seconds)}")
    return " ".join(options)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def make_reader(
    database_url: str, pool_size: int = GAUGE_CONNECTIONS, settings: Settings | None = None
) -> Engine:
    """The gauges' read engine: one round trip per read, and Postgres refuses writes.

    Autocommit, so a read is one statement with no BEGIN/ROLLBACK around it;
    `default_transaction_read_only` makes the implicit transaction of every statement read-only
    (a read-only session, enforced by the server). A pool of its own, apart from the read pool,
    because the gauges' queries are SQLAlchemy sessions run in a thread, in the background; a
    query that fails on a dead connection is simply retried at the next interval (api.gauges).
    """
    return create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        pool_timeout=settings.api_pool_timeout_seconds if settings is not None else 30,
        connect_args={"connect_timeout": 5, "options": session_options(settings)},
    )


def make_writer(settings: Settings) -> Engine:
    """The management writes' pool, with the same limits on every wait as the reads. Small: each
    workspace may hold at most DRAVO_API_CONCURRENT_WRITES_PER_WORKSPACE of it (api.fairshare)."""
    return create_engine(
        settings.api_write_url,
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=settings.api_pool_timeout_seconds,
        connect_args={
            "connect_timeout": 5,
            "options": (
                f"-c statement_timeout={_ms(settings.api_statement_timeout_seconds)}"
                f" -c lock_timeout={_ms(settings.api_lock_timeout_seconds)}"
            ),
        },
    )


def make_key_use_writer(settings: Settings) -> Engine:
    """The pool of `last_used_at` bookkeeping, apart from the management writes' (make_writer), so
    one tenant's burst of writes never holds up another's authentication; a short wait for a
    connection, then the write is skipped (api.reads.KeyUseRecorder)."""
    return create_engine(
        settings.api_read_url,  # the read role may UPDATE api_keys.last_used_at, nothing else (models/roles.py)
        pool_size=KEY_USE_THREADS,
        max_overflow=0,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=min(0.5, settings.api_pool_timeout_seconds),
        connect_args={
            "connect_timeout": 5,
            "options": (
                f"-c statement_timeout={_ms(settings.api_statement_timeout_seconds)}"
                f" -c lock_timeout={_ms(settings.api_lock_timeout_seconds)}"
            ),
        },
    )


@dataclass(frozen=True)
class OnDemandRefresh:
    """What `refresh=true` needs: the refresh service and the per-workspace limits around it
    (`api.ratelimit`, settings DRAVO_REFRESH_*)."""

    service: RefreshService
    redis: aredis.Redis
    wait_seconds: float
    concurrent_per_workspace: int
    accounts_per_minute: int


@dataclass(frozen=True)
class Readiness:
    """What /readyz checks: the probe's own connection (see AppState.probe) and Redis."""

    probe: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    redis: aredis.Redis


@dataclass
class AppState:
    settings: Settings
    # The management writes, see make_writer.
    writer: Engine
    # `last_used_at` bookkeeping, see make_key_use_writer.
    key_use_engine: Engine
    # Every read a handler makes, typed (api.reads), on `read_pool`.
    reads: ApiReads
    # The one write of the request path: an API key's `last_used_at` (api.reads).
    key_uses: KeyUseRecorder
    # The read pool: the reads of the request path (through `reads`) and the refresh service's.
    read_pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    # /readyz's own connection, a pool of one apart from `read_pool`: a probe must not queue behind
    # the requests it vouches for.
    probe: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    # The gauges' SQLAlchemy read engine (see make_reader): their background queries, off the
    # request path, are SQLAlchemy sessions (api.gauges, api.webhook_gauges).
    reader: Engine
    # The management API's writes (connect, disconnect, webhooks), typed (api.writes);
    # `last_used_at` is key_uses'.
    writes: ApiWrites
    redis: redis.Redis
    # The same Redis for awaited calls (refresh limits and waits, readiness): no thread per call.
    async_redis: aredis.Redis
    refresh: RefreshService
    gauges: FreshnessGauges
    # None: dashboard JWTs are refused (no DRAVO_JWT_SECRET).
    jwt: JwtPolicy | None = None
    # Built once from the fields above: a request's dependencies (api.dependencies) hand them out.
    on_demand: OnDemandRefresh = field(init=False)
    readiness: Readiness = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.on_demand = OnDemandRefresh(
            service=self.refresh,
            redis=self.async_redis,
            wait_seconds=settings.refresh_wait_seconds,
            concurrent_per_workspace=settings.refresh_concurrent_per_workspace,
            accounts_per_minute=settings.refresh_accounts_per_minute,
        )
        self.readiness = Readiness(probe=self.probe, redis=self.async_redis)

    async def open(self) -> None:
        """Open the async pools on the lifespan's event loop; connections are made on demand."""
        await self.read_pool.open()
        await self.probe.open()

    async def aclose(self) -> None:
        await self.gauges.stop()
        await self.refresh.aclose()
        await self.async_redis.aclose(close_connection_pool=True)
        await self.read_pool.close()
        await self.probe.close()
        self.close()

    def close(self) -> None:
        self.redis.close()
        self.reader.dispose()
        self.writer.dispose()
        self.key_use_engine.dispose()


def jwt_policy(settings: Settings) -> JwtPolicy | None:
    if settings.jwt_secret is None:
        return None
    secrets = [settings.jwt_secret.get_secret_value()]
    if settings.jwt_previous_secret is not None:
        secrets.append(settings.jwt_previous_secret.get_secret_value())
    return JwtPolicy(
        secrets=tuple(secrets),
        audience=settings.jwt_audience or None,
        issuer=settings.jwt_issuer or None,
        max_ttl_seconds=settings.jwt_max_ttl_seconds,
    )


def build_state(settings: Settings) -> AppState:
    writer = make_writer(settings)
    key_use_engine = make_key_use_writer(settings)
    redis_client = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    # Bounded: a storm of refreshes shares ASYNC_REDIS_CONNECTIONS instead of opening one each, and
    # waiting for one of them is bounded too (redis.ConnectionError: 503).
    async_redis = aredis.Redis(
        connection_pool=aredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=ASYNC_REDIS_CONNECTIONS,
            timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
    )
    read_options = session_options(settings)
    read_pool = make_read_pool(
        settings.api_read_url,
        READ_CONCURRENCY,
        options=read_options,
        timeout=settings.api_pool_timeout_seconds,
        name="api-read",
    )
    probe = make_read_pool(
        settings.api_read_url,
        1,
        options=read_options,
        timeout=settings.api_pool_timeout_seconds,
        name="api-probe",
    )
    reader = make_reader(settings.api_read_url, settings=settings)
    write_sessions = make_session_factory(writer)
    cipher = TokenCipher(settings.encryption_keys)
    # A refresh is prepared to wait anyway: its reads may queue for their share up to its wait
    # (which they shorten), not only the pool timeout of a plain read.
    refresh_reads = ReadConnections(
        read_pool,
        limit=REFRESH_READ_SHARE,
        wait_timeout=max(settings.refresh_wait_seconds, settings.api_pool_timeout_seconds),
    )
    return AppState(
        settings=settings,
        writer=writer,
        key_use_engine=key_use_engine,
        reads=ApiReads(ReadConnections(read_pool), cipher),
        key_uses=KeyUseRecorder(make_session_factory(key_use_engine)),
        read_pool=read_pool,
        probe=probe,
        reader=reader,
        writes=ApiWrites(
            write_sessions,
            cipher,
            WriteLimits(
                redis=async_redis,
                writes_per_minute=settings.api_writes_per_minute,
                concurrent_per_workspace=settings.api_concurrent_writes_per_workspace,
                share_timeout=settings.api_pool_timeout_seconds,
                refresh_accounts_per_minute=settings.refresh_accounts_per_minute,
            ),
            allow_loopback_http=settings.webhook_allow_loopback_http,
            max_webhook_endpoints=settings.webhook_max_endpoints_per_workspace,
        ),
        redis=redis_client,
        async_redis=async_redis,
        refresh=build_refresh_service(settings, refresh_reads, redis_client, async_redis),
        gauges=FreshnessGauges(
            sessionmaker(reader),
            redis_client,
            settings.metrics_interval_seconds,
            extra_sources=[WebhookCollector(sessionmaker(reader))],
        ),
        jwt=jwt_policy(settings),
    )
