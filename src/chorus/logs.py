"""Structured logging (structlog): JSON in production, readable in development.

Request ids are bound per request through contextvars. Never log passwords, tokens,
e-mail bodies or addresses: log ids and codes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

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


class AccessLog:
    """The line per request (``chorus.access``). In JSON the line is the one structlog would
    write (the same fields in the same order), made here without its processor chain and
    written straight to the stream the standard library's handler writes to, under that
    handler's lock: on a public read the usual path cost about as much as answering from the
    cache. (Without such a handler, e.g. under a test's log capture, through the logger.)"""

    def __init__(self, settings: Settings, name: str = "chorus.access") -> None:
        self.json = settings.logs_as_json
        self.logger = logging.getLogger(name)
        self.structured = structlog.get_logger(name).bind()  # bound once, not per request

    def request(self, **fields: Any) -> None:
        if not self.json:
            self.structured.info("request", **fields)
            return
        if not self.logger.isEnabledFor(logging.INFO):
            return
        line = json.dumps(
            {
                **fields,
                "event": "request",
                **structlog.contextvars.get_contextvars(),
                "level": "info",
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
        )
        handler = _stream_handler()
        if handler is None:
            self.logger.info(line)
            return
        with handler.lock or contextlib.nullcontext():
            handler.stream.write(line + handler.terminator)
            handler.stream.flush()


def _stream_handler() -> logging.StreamHandler[Any] | None:
    """The root logger's only handler when it is a plain stream handler writing messages as
    they are (what :func:`configure` sets up), else None."""
    handlers = logging.getLogger().handlers
    if len(handlers) == 1 and type(handlers[0]) is logging.StreamHandler:
        handler = handlers[0]
        if handler.formatter is None or handler.formatter._fmt == "%(message)s":
            return handler
    return None
