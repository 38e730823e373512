"""The access log's JSON line (one per request) is written without structlog's processor chain
for speed: it must stay the line structlog writes, field for field, so that whoever reads the
logs (an operator's shipper, grep) sees no difference."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog

from chorus import logs
from chorus.settings import Settings


@pytest.fixture
def json_logs(caplog: Any) -> Any:
    settings = Settings(log_json=True, log_level="INFO")
    logs.configure(settings)
    caplog.set_level("INFO")
    yield settings
    structlog.contextvars.clear_contextvars()


def lines(caplog: Any) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "chorus.access"]


def test_the_fast_line_is_the_line_structlog_writes(json_logs: Settings, caplog: Any) -> None:
    structlog.contextvars.bind_contextvars(request_id="abc123")
    fields = {"method": "GET", "path": "/merchants/星辰", "client": "203.0.113.7", "status": 200, "ms": 1.5}
    structlog.get_logger("chorus.access").info("request", **fields)
    logs.AccessLog(json_logs).request(**fields)
    slow, fast = lines(caplog)
    assert list(fast) == list(slow)  # same fields, same order
    assert {k: v for k, v in fast.items() if k != "timestamp"} == {
        k: v for k, v in slow.items() if k != "timestamp"
    }
    assert fast["timestamp"].endswith("Z") and len(fast["timestamp"]) == len(slow["timestamp"])
    raw = [r.getMessage() for r in caplog.records if r.name == "chorus.access"]
    assert "星辰" not in raw[1] and "\\u661f" in raw[1]  # escaped as structlog escapes it


def test_nothing_is_written_below_the_configured_level(caplog: Any) -> None:
    settings = Settings(log_json=True, log_level="WARNING")
    logs.configure(settings)
    caplog.set_level("WARNING")
    logging.getLogger("chorus.access").setLevel(logging.NOTSET)
    logs.AccessLog(settings).request(method="GET", path="/", client=None, status=200, ms=0.1)
    assert lines(caplog) == []
