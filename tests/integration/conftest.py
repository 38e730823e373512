"""Fixtures shared by the integration tests (the root conftest sets the environment first)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.regulator_standin import KEY_ENV, Standin, running


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
