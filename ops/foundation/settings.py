"""The one configuration object of dravo-sync, read from the environment.

Every process (API, worker, beat, CLI) builds it once at start-up through `load_settings()`, which
turns validation failures into `ConfigurationError` with one readable line per bad variable.
Adapters never read settings: the composition roots hand them plain values (`PlatformConfig`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from adapters.base import PLATFORMS, Platform, PlatformConfig
from ops.foundation import platforms as platform_registry

__all__ = ["PLATFORMS", "ConfigurationError", "Platform", "Settings", "get_settings", "load_settings"]


# Only used when DRAVO_ENV=development and no key is given, so a local trial needs no secrets.
# It is public, so anything encrypted with it is readable by anyone: never use it for real tokens.
DEVELOPMENT_ENCRYPTION_KEY = "ZHJhdm8tc3luYy1kZXZlbG9wbWVudC1rZXktMzJieXQ="


class ConfigurationError(Exception):
    """The environment does not describe a runnable configuration."""


class PlatformSettings(BaseModel):
    """One platform's settings; each field is DRAVO_<PLATFORM>_<FIELD> (DRAVO_X_APP_BUDGET, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_base: str
    # None: the registry's pinned version (ops.foundation.platforms).
    api_version: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # None: DRAVO_FRESHNESS_SECONDS. A read stays fresh this long (stale_after = last_updated_at + it).
    freshness_seconds: int | None = Field(None, ge=60)
    # Shared rate budgets, "CALLS/SECONDS" per platform app and per account token (docs/worker.md).
    app_budget: str
    user_budget: str
    # A separate token host (LinkedIn's); None where the platform has none.
    oauth_base: str | None = None

    @classmethod
    def defaults(cls, spec: platform_registry.PlatformSpec) -> dict[str, object]:
        return {
            "api_base": spec.api_base,
            "app_budget": spec.app_budget,
            "user_budget": spec.user_budget,
            "oauth_base": spec.oauth_base,
        }


class PlatformEnvSource(PydanticBaseSettingsSource):
    """Reads DRAVO_<PLATFORM>_<FIELD> into `platforms`: the same variable names as flat fields had.

    Variable names are matched case-insensitively, as pydantic-settings matches the flat ones.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        environ = {name.upper(): value for name, value in os.environ.items()}
        found: dict[str, dict[str, str]] = {}
        for spec in platform_registry.PLATFORMS:
            for field_name in PlatformSettings.model_fields:
                if field_name == "oauth_base" and spec.oauth_base is None:
                    continue  # only platforms with a separate token host have the variable
                value = environ.get(f"DRAVO_{spec.name.upper()}_{field_name.upper()}")
                if value is not None:
                    found.setdefault(spec.name, {})[field_name] = value
        return {"platforms": found} if found else {}


def _web_address(value: str, what: str, *, bare: bool) -> str:
    """An http(s) address without a trailing slash; `bare`: scheme, host and port only (an origin)."""
    parts = urlsplit(value.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"{value!r} is not {what}: http(s)://host[:port] expected")
    if parts.query or parts.fragment or (bare and parts.path):
        raise ValueError(f"{value!r} is not {what}: no path, query or fragment")
    return parts.geturl().lower() if bare else parts.geturl()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRAVO_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = "production"

    # Both URLs may carry a password: left out of the repr (a logged traceback or error).
    database_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/dravo",
        validation_alias=AliasChoices("DATABASE_URL"),
        repr=False,
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=AliasChoices("REDIS_URL"), repr=False)
    # Least-privilege roles (models/roles.py, README "Database roles"): each process connects as
    # its own role. DATABASE_URL stays the migration owner's (migrations, roles, the CLI); a role
    # URL left unset falls back to it, so existing setups keep working.
    api_read_database_url: str | None = Field(None, repr=False)
    api_write_database_url: str | None = Field(None, repr=False)
    worker_database_url: str | None = Field(None, repr=False)
    # Docker secrets: a directory holding one file per setting, named like its variable
    # (/run/secrets/DRAVO_ENCRYPTION_KEY); read by load_settings, below the environment.
    secrets_dir: str | None = None

    @property
    def api_read_url(self) -> str:
        return self.api_read_database_url or self.database_url

    @property
    def api_write_url(self) -> str:
        return self.api_write_database_url or self.database_url

    @property
    def worker_url(self) -> str:
        return self.worker_database_url or self.database_url

    # Comma-separated Fernet keys: the first encrypts, all decrypt (key rotation).
    encryption_key: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    # Accepted besides jwt_secret while the dashboard rotates its secret (models/jwts.py).
    jwt_previous_secret: SecretStr | None = None
    # Checked (and required in the token) when set.
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # A JWT whose exp lies further ahead than this is refused: no long-lived dashboard tokens.
    jwt_max_ttl_seconds: int = Field(86_400, ge=60)

    # Per platform (ops.foundation.platforms), read from DRAVO_<PLATFORM>_<FIELD> variables
    # (DRAVO_X_API_BASE, DRAVO_TIKTOK_APP_BUDGET, ...) by `PlatformEnvSource`; defaults from the registry.
    platforms: dict[str, PlatformSettings] = Field(default_factory=dict, validate_default=True)

    # How long a read stays fresh (stale_after = last_updated_at + this), per platform.
    freshness_seconds: int = Field(6 * 3600, ge=60)

    insights_window_days: int = Field(28, ge=1, le=30)

    http_timeout_seconds: float = Field(20.0, gt=0, le=120)
    http_connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    http_max_connections: int = Field(100, ge=1)

    refresh_wait_seconds: float = Field(10.0, ge=0, le=60)
    refresh_min_interval_seconds: int = Field(60, ge=0)
    # Per workspace, over every API process: accounts refreshed in any 60 s (a sliding window),
    # and refresh=true requests waiting at once (past either: 429 with Retry-After).
    refresh_accounts_per_minute: int = Field(60, ge=1)
    refresh_concurrent_per_workspace: int = Field(4, ge=1)
    # Share of every platform's app budget that refreshes may not touch: it stays for scheduled syncs.
    scheduled_budget_reserve_percent: float = Field(50.0, ge=0, le=100)

    # The API's own waits (docs/api.md): per statement, per lock, and for a pooled connection.
    api_statement_timeout_seconds: float = Field(5.0, gt=0, le=300)
    api_lock_timeout_seconds: float = Field(2.0, gt=0, le=300)
    api_pool_timeout_seconds: float = Field(2.0, gt=0, le=60)
    # Requests whose headers together exceed this are refused with 431.
    api_max_header_bytes: int = Field(16_384, ge=1024, le=1_048_576)
    # Request bodies over this (declared or chunked) are refused with 413 before they are parsed.
    api_max_body_bytes: int = Field(65_536, ge=1024, le=16_777_216)
    # Per workspace, over every API process: management writes (connect, disconnect, webhook
    # create/delete) in any 60 s (past it: 429 with Retry-After), and writes running at once in
    # one process (a fair share of its writer pool; past it, after the pool timeout: 429).
    api_writes_per_minute: int = Field(120, ge=1)
    api_concurrent_writes_per_workspace: int = Field(2, ge=1, le=4)
    # GET /metrics needs `Authorization: Bearer <this>`; unset, the API serves no /metrics.
    metrics_token: SecretStr | None = None
    # How often each API process recomputes its freshness gauges (a scrape runs no query).
    metrics_interval_seconds: float = Field(15.0, gt=0, le=15)

    # Browser dashboards (docs/api.md, "CORS"): origins (scheme://host[:port]) allowed to call the
    # API with a JWT, comma-separated; empty, no CORS headers at all. public_url: where clients
    # reach the API (e.g. https://api.example.com), for the paging `Link` header; unset, that
    # header is a reference relative to the request. The request's Host is never used.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    public_url: str | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_web_address(origin, "an origin", bare=True) for origin in value)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        return None if value is None else _web_address(value, "a URL", bare=False)

    lease_seconds: int = Field(300, ge=10)
    dispatch_interval_seconds: float = Field(5.0, gt=0)
    dispatch_batch_size: int = Field(500, ge=1, le=10_000)
    max_backoff_seconds: int = Field(6 * 3600, ge=60)
    # Worker scheduling (docs/worker.md). A sync is planned `freshness * (1 - margin)` after a read,
    # minus up to `freshness * jitter`, so accounts connected together drift apart.
    schedule_margin_fraction: float = Field(0.15, ge=0, lt=0.9)
    schedule_jitter_fraction: float = Field(0.05, ge=0, lt=0.5)
    # First retry after a failure; doubles per consecutive failure up to max_backoff_seconds.
    backoff_base_seconds: int = Field(60, ge=1)
    # The threads pool enforces no time limits: HTTP timeouts and the lease are the real bounds.
    task_soft_time_limit_seconds: int = Field(90, ge=1)
    task_time_limit_seconds: int = Field(120, ge=2)
    # Must exceed the hard limit, or kombu redelivers a message whose task is still running.
    broker_visibility_timeout_seconds: int = Field(900, ge=10)
    # How long the metric catalog caches metric_rejections in each process.
    catalog_cache_seconds: float = Field(60.0, ge=0)
    # A metric is retired platform-wide only when accounts of this many workspaces saw the
    # platform's retirement wording; until then only the refusing account skips it.
    metric_retirement_min_workspaces: int = Field(2, ge=1)
    # Shared rate budgets ("CALLS/SECONDS" per platform app and per account token) are per platform,
    # in `platforms` (DRAVO_<PLATFORM>_APP_BUDGET / _USER_BUDGET, docs/worker.md).
    # Meta usage headers at or above this percent pause that budget for budget_pause_seconds.
    budget_usage_pause_percent: float = Field(90.0, gt=0, le=100)
    budget_pause_seconds: int = Field(300, ge=1)
    # Outage holds (worker.outage, docs/worker.md): when, within the window, at least
    # outage_min_failures syncs of a platform found it unavailable and they were at least
    # outage_failure_ratio of its counted syncs, no call goes to it for outage_hold_seconds; then
    # at most outage_probe_syncs per dispatcher tick until one answers. 0 failures turns holds off.
    outage_min_failures: int = Field(20, ge=0)
    outage_failure_ratio: float = Field(0.5, gt=0, le=1)
    outage_window_seconds: float = Field(60.0, gt=0)
    outage_hold_seconds: float = Field(60.0, gt=0)
    outage_probe_syncs: int = Field(5, ge=1)
    # A hold also needs those failures from at least outage_min_workspaces distinct workspaces, or
    # outage_min_failures of them from accounts that had read well before: one tenant's own
    # failing accounts never hold a platform for everyone (worker.outage).
    outage_min_workspaces: int = Field(3, ge=1)

    # History retention (docs/worker.md): snapshots of the last history_recent_days are kept whole
    # (the cutoff is the start of that UTC day, so 7 to 8 days), older ones downsampled to the last
    # one of each UTC day by a beat task, in batches of history_retention_batch_size rows (one
    # short transaction each), at most history_retention_max_batches per run.
    history_recent_days: int = Field(7, ge=1, le=3650)
    history_retention_interval_seconds: float = Field(3600.0, ge=1)
    history_retention_batch_size: int = Field(5000, ge=1, le=100_000)
    history_retention_max_batches: int = Field(200, ge=1)

    worker_pool: Literal["threads", "prefork", "solo", "gevent"] = "threads"
    worker_concurrency: int = Field(32, ge=1, le=1000)
    # Worker processes per `dravo-sync worker`; 0: one per CPU core (a threads pool uses one core).
    worker_processes: int = Field(0, ge=0, le=64)
    # Prometheus exporter of a worker process; 0 turns it off.
    worker_metrics_port: int = Field(9808, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"

    flower_user: str | None = None
    flower_password: SecretStr | None = None
    flower_max_tasks: int = Field(10_000, ge=100)

    # Webhooks (docs/webhooks.md). Every request's connect, write and read each time out after this.
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    # Requests in flight per endpoint, across every worker.
    webhook_endpoint_concurrency: int = Field(8, ge=1, le=64)
    # Worker slots webhook deliveries may take at once (one per endpoint being served), so a
    # slow or dead endpoint can never take the slots syncs run in.
    webhook_max_active_endpoints: int = Field(4, ge=1, le=256)
    webhook_sweep_interval_seconds: float = Field(2.0, gt=0, le=60)
    # How long one delivery task keeps serving its endpoint before it hands the slot back.
    webhook_task_budget_seconds: float = Field(20.0, gt=0, le=300)
    webhook_fan_out_batch: int = Field(1000, ge=1, le=100_000)
    # Retries: exponential backoff from base (doubling, up to max, with jitter) for the window.
    webhook_retry_window_seconds: int = Field(24 * 3600, ge=1)
    webhook_backoff_base_seconds: float = Field(5.0, gt=0)
    webhook_backoff_max_seconds: float = Field(3600.0, gt=0)
    # Deliveries in a row that end failed (after the whole window) before the endpoint is disabled.
    webhook_disable_after_failures: int = Field(5, ge=1)
    # Delivered and failed events (and their attempts) are kept this long, then pruned.
    webhook_retention_seconds: int = Field(7 * 86400, ge=0)
    # Development only: http URLs and loopback addresses are accepted as webhook targets.
    webhook_allow_loopback_http: bool = False
    # Isolation between tenants' receivers (docs/webhooks.md, "Limits and isolation"): a short
    # connect timeout, a hard wall-clock deadline per attempt (connect, headers and body together:
    # a receiver trickling bytes beats per-read timeouts), endpoints and delivery slots per
    # workspace, and the circuit breaker (open after this many failed attempts in a row, for this
    # long, then one probe).
    webhook_connect_timeout_seconds: float = Field(3.0, gt=0, le=30)
    webhook_attempt_deadline_seconds: float = Field(15.0, gt=0, le=120)
    webhook_max_endpoints_per_workspace: int = Field(10, ge=1, le=1000)
    # Delivery slots one workspace may hold at once: below webhook_max_active_endpoints, so
    # another workspace always finds a free one.
    webhook_max_active_per_workspace: int = Field(3, ge=1, le=256)
    webhook_breaker_failures: int = Field(5, ge=1, le=1000)
    webhook_breaker_open_seconds: float = Field(60.0, gt=0, le=86400)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False

    @field_validator("database_url", "api_read_database_url", "api_write_database_url", "worker_database_url")
    @classmethod
    def _postgres_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.field_name != "database_url" and (value is None or not value.strip()):
            return None  # a role URL left empty: the process uses DATABASE_URL
        assert value is not None
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {exc}") from exc
        if url.get_backend_name() != "postgresql":
            raise ValueError("must be a PostgreSQL URL (postgresql+psycopg://user@host:port/db)")
        if url.get_driver_name() not in ("psycopg", "psycopg2", ""):
            raise ValueError("use the psycopg (v3) driver: postgresql+psycopg://...")
        if not url.database:
            raise ValueError("names no database")
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            PlatformEnvSource(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @field_validator("platforms", mode="before")
    @classmethod
    def _every_platform(cls, value: object) -> dict[str, object]:
        # Every registry platform gets an entry; a given entry overrides the registry's defaults.
        given: Mapping[str, object] = value if isinstance(value, Mapping) else {}
        unknown = set(given) - {spec.name for spec in platform_registry.PLATFORMS}
        if unknown:
            raise ValueError(f"unknown platforms {sorted(unknown)}")
        result: dict[str, object] = {}
        for spec in platform_registry.PLATFORMS:
            entry = given.get(spec.name, {})
            if isinstance(entry, PlatformSettings):
                result[spec.name] = entry
            else:
                result[spec.name] = {**PlatformSettings.defaults(spec), **dict(entry)}  # type: ignore[call-overload]
        return result

    @model_validator(mode="after")
    def _https_base_urls(self) -> Settings:
        # Tokens travel to these hosts: plain http only for a local simulator, in development.
        problems = []
        for name, platform in self.platforms.items():
            for field_name in ("api_base", "oauth_base"):
                value = getattr(platform, field_name)
                if value is None:
                    continue
                variable = f"DRAVO_{name.upper()}_{field_name.upper()}"
                parts = urlsplit(value)
                if parts.scheme not in ("https", "http") or not parts.hostname:
                    problems.append(f"{variable}: must be an absolute https:// URL")
                elif parts.scheme == "http" and self.env != "development":
                    problems.append(
                        f"{variable}: must be https:// (plain http only with DRAVO_ENV=development)"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("jwt_secret", "jwt_previous_secret")
    @classmethod
    def _jwt_secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        # RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
        if len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes (HS256 needs a key as long as its hash)")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (it guards every tenant's counts)")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        for part in value.get_secret_value().split(","):
            try:
                Fernet(part.strip().encode())
            except ValueError:
                raise ValueError(
                    "each comma-separated key must be a Fernet key (32 url-safe base64 bytes); "
                    "create one with: dravo-sync keygen"
                ) from None
        return value

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> Settings:
        if self.encryption_key is None and self.env != "development":
            raise ValueError(
                "DRAVO_ENCRYPTION_KEY is required outside development "
                "(DRAVO_ENV=development uses a public demo key); create one with: dravo-sync keygen"
            )
        return self

    @model_validator(mode="after")
    def _webhook_loopback_outside_production(self) -> Settings:
        if self.webhook_allow_loopback_http and self.env == "production":
            raise ValueError(
                "DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP is for development and tests only (DRAVO_ENV)"
            )
        return self

    @property
    def encryption_keys(self) -> list[str]:
        if self.encryption_key is None:
            return [DEVELOPMENT_ENCRYPTION_KEY]
        return [k.strip() for k in self.encryption_key.get_secret_value().split(",") if k.strip()]

    def platform(self, platform: Platform) -> PlatformConfig:
        chosen = self.platforms[platform]
        secret = chosen.client_secret
        return PlatformConfig(
            platform=platform,
            api_base=chosen.api_base.rstrip("/"),
            api_version=chosen.api_version,
            client_id=chosen.client_id,
            client_secret=secret.get_secret_value() if secret else None,
            oauth_base=chosen.oauth_base.rstrip("/") if chosen.oauth_base else None,
            freshness_seconds=chosen.freshness_seconds or self.freshness_seconds,
        )

    def with_platform(self, platform: Platform, **changes: object) -> Settings:
        """A copy with some of one platform's settings changed (validated, as from the environment)."""
        updated = PlatformSettings.model_validate({**self.platforms[platform].model_dump(), **changes})
        return self.model_copy(update={"platforms": {**self.platforms, platform: updated}})


def environment_variables() -> list[str]:
    """Every variable the settings read, the per-platform ones as DRAVO_<PLATFORM>_<FIELD>."""
    names = []
    for field in Settings.model_fields:
        if field == "platforms":
            names += [
                f"DRAVO_{spec.name.upper()}_{name.upper()}"
                for spec in platform_registry.PLATFORMS
                for name in PlatformSettings.model_fields
                if name != "oauth_base" or spec.oauth_base is not None
            ]
        else:
            names.append(
                field.upper() if field in ("database_url", "redis_url") else f"DRAVO_{field.upper()}"
            )
    return names


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = item["loc"]
        # ("platforms", "x", "app_budget") is DRAVO_X_APP_BUDGET.
        parts = loc[1:3] if len(loc) >= 3 and loc[0] == "platforms" else loc[:1]
        name = "_".join(str(part) for part in parts).upper()
        env_name = name if name in ("DATABASE_URL", "REDIS_URL") else f"DRAVO_{name}"
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{env_name}: {message}" if name else message)
    return "invalid configuration: " + "; ".join(lines)


def load_settings() -> Settings:
    """Read and validate the environment; raise ConfigurationError with a readable message."""
    # Docker secrets (DRAVO_SECRETS_DIR): lower precedence than the environment's variables.
    secrets_dir = os.environ.get("DRAVO_SECRETS_DIR") or None
    try:
        return Settings(_secrets_dir=secrets_dir)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
