"""The access log's JSON line (one per request) is written without structlog's processor chain
for speed: it must stay the line structlog writes, field for field, so that whoever reads the
logs (an operator's shipper, grep) sees no difference."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from chorus import logs
from chorus.settings import Settings

FIELDS = {"method": "GET", "path": "/merchants/星辰", "client": "203.0.113.7", "status": 200, "ms": 1.5}


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """The root logger's handler as ``chorus.logs.configure`` sets it up in a process (a plain
    stream handler writing the message alone), on a string."""
    root = logging.getLogger()
    kept, level = root.handlers[:], root.level
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.handlers = [handler]
    try:
        yield out
    finally:
        root.handlers, root.level = kept, level
        structlog.contextvars.clear_contextvars()


def _structlogs_then_ours(stream: io.StringIO, fields: dict[str, Any], *, as_json: bool) -> list[str]:
    """The lines written for one request by structlog's own chain, then by ``AccessLog``, in a
    request with its id bound, logging as ``chorus.logs.configure`` sets it up (INFO)."""
    settings = Settings(log_json=as_json, log_level="INFO")
    logs.configure(settings)
    logging.getLogger().setLevel(logging.INFO)
    structlog.contextvars.bind_contextvars(request_id="abc123")
    structlog.get_logger("chorus.access").info("request", **fields)
    logs.AccessLog(settings).request(**fields)
    return stream.getvalue().splitlines()


def test_the_fast_line_is_the_line_structlog_writes(stream: io.StringIO) -> None:
    raw = _structlogs_then_ours(stream, FIELDS, as_json=True)
    assert len(raw) == 2
    slow, fast = (json.loads(line) for line in raw)
    assert list(fast) == list(slow)  # same fields, same order
    assert {k: v for k, v in fast.items() if k != "timestamp"} == {
        k: v for k, v in slow.items() if k != "timestamp"
    }
    assert fast["request_id"] == "abc123" and fast["event"] == "request"
    assert fast["timestamp"].endswith("Z") and len(fast["timestamp"]) == len(slow["timestamp"])
    assert "星辰" not in raw[1] and "\\u661f" in raw[1]  # escaped as structlog escapes it


@pytest.mark.parametrize(
    "fields",
    [
        FIELDS,
        # a text with a space or a quote is quoted, None and numbers are repr'd, as structlog does
        {**FIELDS, "path": "/merchants/星辰 旗舰店", "client": None, "status": 404, "ms": 0.0},
        {**FIELDS, "path": "/a=b'c", "method": "POST"},
    ],
)
def test_the_fast_console_line_is_structlogs(stream: io.StringIO, fields: dict[str, Any]) -> None:
    slow, fast = _structlogs_then_ours(stream, fields, as_json=False)
    stamp = len("2026-12-04T10:12:49.304535Z")
    assert fast[stamp:] == slow[stamp:]  # the same columns and key=value pairs, after the time
    assert fast[:stamp].endswith("Z") and fast[stamp] == " " and "request_id=abc123" in fast


def test_nothing_is_written_below_the_configured_level(stream: io.StringIO) -> None:
    settings = Settings(log_json=True, log_level="WARNING")
    logs.configure(settings)
    logging.getLogger().setLevel(logging.WARNING)
    logs.AccessLog(settings).request(**FIELDS)
    structlog.get_logger("chorus.access").warning("still_written")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["still_written"]


def test_under_another_handler_the_line_goes_through_the_logger(caplog: Any) -> None:
    settings = Settings(log_json=True, log_level="INFO")
    logs.configure(settings)
    caplog.set_level("INFO")
    logs.AccessLog(settings).request(**FIELDS)
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "chorus.access"]
    assert [(r["event"], r["path"], r["status"]) for r in records] == [("request", "/merchants/星辰", 200)]
