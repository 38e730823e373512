"""Fixtures shared by the integration tests (the root conftest sets the environment first)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.regulator_standin import KEY_ENV, Standin, running
from tests.toolkit import start_web, stop_process


@pytest.fixture
async def gateway() -> AsyncIterator[Standin]:
    """A protocol-v1 regulator stand-in on a real socket, its API key in KEY_ENV."""
    standin = Standin()
    os.environ[KEY_ENV] = standin.api_key
    try:
        async with running(standin) as s:
            yield s
    finally:
        os.environ.pop(KEY_ENV, None)


@pytest.fixture
def web_process(clean: None, tmp_path: Path) -> Iterator[str]:
    """``chorus web`` (uvicorn) in its own process, on this run's database, Redis and SMTP: its
    base URL (the API fuzzers, tests/integration/fuzz_support.py)."""
    proc, base = start_web(log=tmp_path / "web.log", env=os.environ)
    try:
        yield base
    finally:
        stop_process(proc)
