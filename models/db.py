"""Engines and sessions. Built per process by a composition root, never at import time."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from ops.foundation import json_codec


def make_engine(database_url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    # pre_ping: a Postgres restart must cost one failed checkout, not a broken pool.
    return create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
        # JSONB columns (metrics, warnings) on every sync.
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_only_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose transactions Postgres itself refuses to write in."""
    return sessionmaker(engine.execution_options(postgresql_readonly=True), expire_on_commit=False)
