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
    """The line per request (``chorus.access``): the one structlog would write (in JSON the same
    fields in the same order; in development its console columns), made here without its
    processor chain and written straight to the stream the standard library's handler writes
    to, under that handler's lock. Through structlog the line cost more than answering a public
    read from the cache (the console renderer alone 34 µs of a 130 µs resolve without a
    query). (Without such a handler, e.g. under a test's log capture, through the logger.)"""

    def __init__(self, settings: Settings, name: str = "chorus.access") -> None:
        self.json = settings.logs_as_json
        self.logger = logging.getLogger(name)

    def request(self, **fields: Any) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        event = {
            **fields,
            "event": "request",
            **structlog.contextvars.get_contextvars(),
            "level": "info",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        line = json.dumps(event) if self.json else _console_line(event)
        handler = _stream_handler()
        if handler is None:
            self.logger.info(line)
            return
        with handler.lock or contextlib.nullcontext():
            handler.stream.write(line + handler.terminator)
            handler.stream.flush()


# what makes structlog's console renderer quote a text value (ConsoleRenderer._repr)
_QUOTED = frozenset({" ", "\t", "=", "\r", "\n", '"', "'"})
_LEVEL_WIDTH = len("exception")  # its level column: as wide as the longest level name
_EVENT_WIDTH = 30  # its event column (pad_event_to)


def _console_value(value: Any) -> str:
    if isinstance(value, str) and not _QUOTED.intersection(value):
        return value
    return repr(value)


def _console_line(event: dict[str, Any]) -> str:
    """The line ``structlog.dev.ConsoleRenderer(colors=False)`` renders of ``event`` (timestamp,
    level and event columns, then the other keys sorted), for an event without logger name,
    stack or exception."""
    columns = ("timestamp", "level", "event")
    rest = " ".join(f"{key}={_console_value(event[key])}" for key in sorted(event) if key not in columns)
    head = f"{event['timestamp']} [{event['level']:<{_LEVEL_WIDTH}}] {event['event']:<{_EVENT_WIDTH}}"
    return f"{head} {rest}".rstrip(" ")


def _stream_handler() -> logging.StreamHandler[Any] | None:
    """The root logger's only handler when it is a plain stream handler writing messages as
    they are (what :func:`configure` sets up), else None."""
    handlers = logging.getLogger().handlers
    if len(handlers) == 1 and type(handlers[0]) is logging.StreamHandler:
        handler = handlers[0]
        if handler.formatter is None or handler.formatter._fmt == "%(message)s":
            return handler
    return None
