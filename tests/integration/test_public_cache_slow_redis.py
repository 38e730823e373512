"""A slow Redis slows no public read while nothing changes (issue 15: p99 at 50 connections):
each process reads the change counter in a task of its own (freshness.Generation.keep_reading),
so a request waits for Redis only when the numbers it needs are unknown. Redis here is a server
of the test's own, kept busy by a script (it answers nobody meanwhile, as a stalled Redis)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from chorus import freshness
from tests.integration.faults_support import PrivateRedis
from tests.integration.test_public_cache import star_shop
from tests.support import http_client

pytestmark = pytest.mark.usefixtures("clean")

# Keeps Redis busy for ARGV[1] microseconds (under its 5-second script limit, after which it
# would answer others with BUSY): every other client waits meanwhile.
BUSY = """
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
while true do
  t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > tonumber(ARGV[1]) then return 1 end
end
"""
BUSY_SECONDS = 4


async def test_public_reads_are_answered_while_redis_is_stalled(
    client: Any, mailbox: Any, worker: Any, settings: Any, tmp_path: Path
) -> None:
    first, _ = await star_shop(client, mailbox, worker)
    url = f"/api/v1/merchants/{first['merchant_id']}"
    server = PrivateRedis(tmp_path / "redis").start()
    blocker = Redis.from_url(server.url)
    try:
        own = settings.model_copy(update={"redis_url": server.url, "public_cache_seconds": 60})
        async with http_client(own) as app:
            kept = await app.get(url)
            assert kept.status_code == 200 and kept.headers["cache-control"] == "public, max-age=60"
            await asyncio.sleep(freshness.REFRESH_SECONDS)  # the counter read since
            busy = asyncio.create_task(blocker.eval(BUSY, 0, str(BUSY_SECONDS * 1_000_000)))  # type: ignore[arg-type]
            await asyncio.sleep(0.2)  # Redis is in the script
            answers = []
            # reads over more than twice REFRESH_SECONDS: before, the first read after it waited
            # for Redis (until the script ended)
            for _ in range(5):
                r = await app.get(url)
                answers.append((r.status_code, r.headers["etag"], busy.done()))
                await asyncio.sleep(freshness.REFRESH_SECONDS / 2)
            assert answers == [(200, kept.headers["etag"], False)] * 5
            assert await busy == 1
            # Redis answering again: a change is seen as before (its own at once)
            after = await app.get(url)
            assert after.status_code == 200 and after.headers["etag"] == kept.headers["etag"]
    finally:
        await blocker.aclose()
        server.stop()
