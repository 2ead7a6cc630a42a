"""Structured JSON logs (seed D) with structlog.

Each app gets its own logger pipeline (no global `structlog.configure`), writing one JSON object
per line with the seed's fields: timestamp, level, message, service, environment, and the
request context (requestId, method, url, statusCode, duration, userId, tenantId) bound per
request through contextvars.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import FilteringBoundLogger, Processor

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def parse_level(name: str) -> int:
    try:
        return LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown log level {name!r}; use one of {sorted(LEVELS)}") from None


def _static_fields(service: str, environment: str) -> Processor:
    def add(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("service", service)
        event.setdefault("environment", environment)
        return event

    return add


def build_logger(
    *, service: str, environment: str, level: str, stream: TextIO | None = None
) -> FilteringBoundLogger:
    """A logger writing JSON lines to `stream` (stdout by default)."""
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _static_fields(service, environment),
        structlog.processors.format_exc_info,
        structlog.processors.EventRenamer("message"),
        structlog.processors.JSONRenderer(sort_keys=False),
    ]
    logger: FilteringBoundLogger = structlog.wrap_logger(
        structlog.WriteLogger(file=stream or sys.stdout),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(parse_level(level)),
        context_class=dict,
        cache_logger_on_first_use=True,
    )
    return logger


def bind_request_context(**fields: Any) -> None:
    """Bind fields to every log line of the current request (asyncio task)."""
    structlog.contextvars.bind_contextvars(**fields)


def clear_request_context() -> None:
    structlog.contextvars.clear_contextvars()
