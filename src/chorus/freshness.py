"""How fresh the public reads are: one generation number in Redis, raised after every committed
write transaction of every process (web and workers), so the public cache of every process
(:mod:`chorus.web.publiccache`) stops serving answers made before the change.

Raised *after* the commit (``db.on_commit``), never inside the transaction: a read that starts
once the number moved sees the committed rows. Each process knows the number it last read or
raised and asks Redis again at most every ``REFRESH_SECONDS``: another process's change is seen
within that time. Without Redis (not configured, or not answering) nothing is cached.
"""

from __future__ import annotations

import time

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chorus import db

log = structlog.get_logger(__name__)

KEY = "chorus:public:generation"
REFRESH_SECONDS = 0.5  # another process's change is seen by this one within this time
_REDIS_RETRY_SECONDS = 5.0


class Generation:
    """A process's view of the generation number (``redis`` None: nothing is cached).
    ``watch()`` raises it on every commit of this process until ``unwatch()``."""

    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis
        self.known: int | None = None
        self.read_at = 0.0
        self.down_until = 0.0
        self._reading = False

    def watch(self) -> None:
        if self.redis is not None:
            db.on_commit(self.changed)

    def unwatch(self) -> None:
        db.on_commit(self.changed, remove=True)

    def _failed(self, exc: Exception) -> None:
        log.warning("freshness.redis_unavailable", error=type(exc).__name__)
        self.known = None
        self.down_until = time.monotonic() + _REDIS_RETRY_SECONDS

    async def changed(self) -> None:
        """Public data may have changed (a write committed): raise the number."""
        redis = self.redis
        if redis is None:
            return
        try:
            await redis.incr(KEY)
            self.known = None  # read again: another process (or app) may have raised it too
        except (RedisError, OSError) as exc:
            self._failed(exc)

    async def current(self) -> int | None:
        """The generation answers may be cached under now; None: cache nothing (no Redis)."""
        redis = self.redis
        now = time.monotonic()
        if redis is None or now < self.down_until:
            return None
        if self.known is not None and (now - self.read_at < REFRESH_SECONDS or self._reading):
            return self.known  # (while one request asks Redis, the others use the last answer)
        self._reading = True
        try:
            self.known = int(await redis.get(KEY) or 0)
            self.read_at = time.monotonic()
        except (RedisError, OSError) as exc:
            self._failed(exc)
        finally:
            self._reading = False
        return self.known
