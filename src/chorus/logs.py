"""Structured logging (structlog): JSON in production, readable in development.

Request ids are bound per request through contextvars. Never log passwords, tokens,
e-mail bodies or addresses: log ids and codes.
"""

from __future__ import annotations

import logging
import sys

import structlog

from chorus.settings import Settings


def configure(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.logs_as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Through the standard library, so third-party records and ours share one stream.
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(message)s")
    # Records are rendered by structlog into %(message)s alone: the standard library need not
    # look up the caller's frame, thread or process for each one (its documented optimizations;
    # a line per request is on every public read's path).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
