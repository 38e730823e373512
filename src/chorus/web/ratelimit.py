"""Rate limits on the credential endpoints, counted in Redis (atomic, shared by every process)
and degrading to per-process counters when Redis is unreachable, so login and registration
keep working — and limited — while Redis is down.

Two kinds of counter, so that neither one address nor one account can be hammered:
- per client address (``CHORUS_AUTH_RATE_LIMIT``): every request to a credential endpoint;
- per account e-mail (``CHORUS_AUTH_ACCOUNT_RATE_LIMIT``), whatever the address: failed logins,
  and each request that sends mail or creates something for that address.

The client address is the one :class:`chorus.web.middleware.ClientAddressMiddleware` settled
on (``X-Forwarded-For`` only from ``CHORUS_TRUSTED_PROXIES``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chorus.settings import Settings

log = structlog.get_logger(__name__)

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_STATE_KEY = "credential_limits"
_REDIS_RETRY_SECONDS = 5.0

# INCR, and start the window on the first hit (also mends a key that somehow lost its expiry).
_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


@dataclass(frozen=True)
class Limit:
    count: int
    window: int  # seconds

    @classmethod
    def parse(cls, spec: str) -> Limit:
        """``"10/minute"`` → 10 per 60 seconds."""
        count, unit = spec.split("/")
        return cls(int(count), _UNITS[unit])


class Counters:
    """Fixed-window counters: Redis when it answers, this process's memory when it does not."""

    def __init__(self, redis: Redis | None, namespace: str = "chorus:ratelimit:") -> None:
        self.redis = redis
        self.namespace = namespace
        self._local: dict[str, tuple[int, float]] = {}  # key → (count, window ends at)
        self._redis_down_until = 0.0

    def _redis(self) -> Redis | None:
        """Redis, unless it failed in the last few seconds (a blackholed server must not make
        every login wait for a connection timeout)."""
        return self.redis if time.monotonic() >= self._redis_down_until else None

    def _redis_failed(self, exc: Exception) -> None:
        log.warning("ratelimit.redis_unavailable", error=type(exc).__name__)
        self._redis_down_until = time.monotonic() + _REDIS_RETRY_SECONDS

    async def hit(self, key: str, window: int) -> tuple[int, int]:
        """Count one; returns the count in this window and the seconds left in it."""
        redis = self._redis()
        if redis is not None:
            try:
                n, ttl = await redis.eval(_HIT, 1, self.namespace + key, str(window))  # type: ignore[misc]
                return int(n), max(int(ttl), 1)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        now = time.monotonic()
        count, ends = self._local.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window
            if len(self._local) > 100_000:  # an address flood must not grow memory without bound
                self._local = {k: v for k, v in self._local.items() if v[1] > now}
        self._local[key] = (count + 1, ends)
        return count + 1, max(int(ends - now), 1)

    async def peek(self, key: str) -> tuple[int, int]:
        """The count in the current window (0 when none) and the seconds left in it."""
        redis = self._redis()
        if redis is not None:
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.get(self.namespace + key)
                    pipe.ttl(self.namespace + key)
                    value, ttl = await pipe.execute()
                return int(value or 0), max(int(ttl), 1)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        now = time.monotonic()
        count, ends = self._local.get(key, (0, 0.0))
        return (count, max(int(ends - now), 1)) if ends > now else (0, 0)

    async def clear(self, key: str) -> None:
        self._local.pop(key, None)
        redis = self._redis()
        if redis is not None:
            try:
                await redis.delete(self.namespace + key)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)


def _refuse(seconds_left: int) -> TooManyRequestsException:
    return TooManyRequestsException(headers={"Retry-After": str(seconds_left)})


def _account_key(action: str, email: str) -> str:
    # Hashed: the counters need no e-mail addresses in Redis.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"account:{action}:{digest}"


class CredentialLimits:
    """The limits of the credential endpoints (login, register, verify, password reset, …)."""

    def __init__(self, counters: Counters, per_address: Limit, per_account: Limit) -> None:
        self.counters = counters
        self.per_address = per_address
        self.per_account = per_account

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None) -> CredentialLimits:
        return cls(
            Counters(redis),
            Limit.parse(settings.auth_rate_limit),
            Limit.parse(settings.auth_account_rate_limit),
        )

    async def spend_address(self, address: str) -> None:
        """Count a request from ``address``; 429 beyond the limit."""
        count, left = await self.counters.hit(f"address:{address}", self.per_address.window)
        if count > self.per_address.count:
            raise _refuse(left)

    async def spend_account(self, action: str, email: str) -> None:
        """Count a request naming ``email`` (a mail sent, an account made); 429 beyond the limit."""
        count, left = await self.counters.hit(_account_key(action, email), self.per_account.window)
        if count > self.per_account.count:
            raise _refuse(left)

    async def check_account(self, action: str, email: str) -> None:
        """429 when ``email`` already took the limit's number of failures in this window."""
        count, left = await self.counters.peek(_account_key(action, email))
        if count >= self.per_account.count:
            raise _refuse(left)

    async def account_failed(self, action: str, email: str) -> None:
        await self.counters.hit(_account_key(action, email), self.per_account.window)

    async def account_succeeded(self, action: str, email: str) -> None:
        await self.counters.clear(_account_key(action, email))


def credential_limits(connection: ASGIConnection[Any, Any, Any, Any]) -> CredentialLimits:
    limits: CredentialLimits = connection.app.state[_STATE_KEY]
    return limits


def install(state: MutableMapping[str, Any], settings: Settings, redis: Redis | None) -> None:
    """Put the app's credential limits where :func:`credential_limits` finds them."""
    state[_STATE_KEY] = CredentialLimits.from_settings(settings, redis)


async def limit_by_address(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the credential endpoints: one counter per client address across all of them."""
    client = connection.client
    await credential_limits(connection).spend_address(client.host if client else "unknown")
