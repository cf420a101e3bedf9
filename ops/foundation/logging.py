"""Logging setup for every process: structlog events with dotted names and ids as fields.

One call, `configure_logging(level, json)`, at process start of every process (api, worker, beat,
simulator, sync, the supervisor's `up`). Standard-library loggers (Celery, kombu, uvicorn and its
access log) go through the same renderer, so a process writes one format to stderr.

Tokens never reach a log line: events carry ids, secrets' reprs hide them (`Credentials`,
`SecretStr` settings, `JwtPolicy`, `BearerCheck`), and tracebacks are plain: file, line and code
only, never the local variables of each frame. structlog's default, used by a process that never
called this, renders Rich tracebacks *with locals*, which printed API keys and the JWT secret
(https://www.structlog.org/en/stable/exceptions.html); `configure_logging` replaces it, and
`PLAIN_TRACEBACKS` is what it installs.
"""

from __future__ import annotations

import logging
import sys

import structlog

_configured = False

# A traceback renderer that shows no local variables (unlike structlog's Rich default).
PLAIN_TRACEBACKS = structlog.dev.plain_traceback
# The loggers uvicorn writes to: they get no handler of their own and propagate to ours.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    global _configured
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=PLAIN_TRACEBACKS)
    )
    structlog.configure(
        processors=[
            # Drop events under the level before any processor runs: the adapters' debug lines
            # (one per platform call) otherwise cost a timestamp and a dict each.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # A standard-library record's exc_info (uvicorn's "Exception in ASGI application")
                # as a plain text field in JSON, as structlog's own events get it above.
                *([structlog.processors.format_exc_info] if json else []),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    if _configured:
        for old in list(root.handlers):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs request URLs at INFO, and some platforms put tokens in query strings.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in UVICORN_LOGGERS:
        # Pass `log_config=None` to uvicorn so it keeps it this way (its default installs its own).
        uvicorn_logger = logging.getLogger(name)
        for old in list(uvicorn_logger.handlers):
            uvicorn_logger.removeHandler(old)
        uvicorn_logger.propagate = True
    _configured = True
