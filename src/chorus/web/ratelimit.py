"""Rate-limit counters shared across processes through Redis, degrading to per-process
counters when Redis is unreachable (so login and registration keep working — and limited —
while Redis is down)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)


class FallbackStore(Store):
    def __init__(self, primary: Store | None) -> None:
        self.primary = primary
        self.fallback = MemoryStore()

    async def _call(self, name: str, *args: object, **kwargs: object) -> object:
        if self.primary is not None:
            try:
                return await getattr(self.primary, name)(*args, **kwargs)
            except (RedisError, OSError) as exc:
                log.warning("ratelimit.redis_unavailable", error=type(exc).__name__)
        return await getattr(self.fallback, name)(*args, **kwargs)

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self._call("set", key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self._call("get", key, renew_for)  # type: ignore[return-value]

    async def delete(self, key: str) -> None:
        await self._call("delete", key)

    async def delete_all(self) -> None:
        await self._call("delete_all")

    async def exists(self, key: str) -> bool:
        return await self._call("exists", key)  # type: ignore[return-value]

    async def expires_in(self, key: str) -> int | None:
        return await self._call("expires_in", key)  # type: ignore[return-value]


def auth_rate_limit(spec: str) -> RateLimitConfig:
    """``"10/minute"`` → a per-client-address limit for the credential endpoints."""
    count, unit = spec.split("/")
    return RateLimitConfig(rate_limit=(unit, int(count)), store="rate_limit")  # type: ignore[arg-type]
