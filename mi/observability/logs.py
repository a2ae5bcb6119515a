"""structlog setup: JSON lines for pipelines, readable lines on a terminal."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

__all__ = ["configure_logging", "get_logger"]

get_logger = structlog.get_logger


def configure_logging(format: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Every event carries ``event``, ``level``, ``timestamp`` (ISO 8601, UTC) and bound context."""
    stream = stream or sys.stdout
    as_json = format == "json" or (format == "auto" and not stream.isatty())
    renderer = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
