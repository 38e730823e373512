"""How fresh the public reads are: version numbers in Redis, raised after committed write
transactions of every process (web and workers), so the public cache of every process
(:mod:`chorus.web.publiccache`) stops serving answers made before a change of what they show.

Scoped: a transaction says what it changed (:func:`chorus.db.changed` with the names below:
:func:`case_changed`, :func:`merchant_changed`, :func:`nothing_public`); only the answers of
those scopes (``case:7``, ``merchant:3``, ``search``) are made again. A transaction that says
nothing raises the version of everything (``*``), as every transaction did before.

Raised *after* the commit (``db.on_commit``), never inside the transaction: a read that starts
once the number moved sees the committed rows. Each process knows the numbers it last read; a
task of its own (:meth:`Generation.keep_reading`, run by the app's lifespan) asks Redis whether
anything changed (one counter, raised with every change) every ``REFRESH_SECONDS`` / 2: another
process's change is seen within ``REFRESH_SECONDS``; its own at once. A request waits for Redis
only when the numbers it needs are not known (at start, after a change): while nothing changes,
a slow Redis slows no public read (measured here under load: a GET answered in 0.2-2.8 s while
Redis itself was idle). Without Redis (not configured, or not answering) nothing is cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chorus import db

log = structlog.get_logger(__name__)

KEY = "chorus:public:generation"  # raised with every change: "has anything changed?"
VERSION_KEY = "chorus:public:v:"  # + scope: that scope's version
EVERYTHING = "*"
SEARCH = "search"
# A scope's version is forgotten a day after its last change (it starts again from 0): far longer
# than any answer is kept (CHORUS_PUBLIC_CACHE_SECONDS), so no answer of an earlier 0 is alive.
VERSION_TTL_SECONDS = 86_400
KNOWN_SCOPES = 10_000  # versions a process remembers between two changes
REFRESH_SECONDS = 0.5  # another process's change is seen by this one within this time
_REDIS_RETRY_SECONDS = 5.0


def case_scope(case_id: int) -> str:
    return f"case:{case_id}"


def merchant_scope(merchant_id: int) -> str:
    return f"merchant:{merchant_id}"


def case_changed(case_id: int, merchant_ids: Iterable[int]) -> None:
    """Inside a transaction: it changes what the public shows of this case (its summary, its
    member count, its filings, its status), so of its merchant(s) and of the search (which
    shows open cases, their sizes and, on the page, their summaries)."""
    db.changed(case_scope(case_id), *(merchant_scope(m) for m in merchant_ids), SEARCH)


def merchant_changed(merchant_id: int, case_ids: Iterable[int] = ()) -> None:
    """Inside a transaction: it changes what the public shows of this merchant (names,
    identifiers), so of the search and of the cases given (whose summaries show the merchant)."""
    db.changed(merchant_scope(merchant_id), *(case_scope(c) for c in case_ids), SEARCH)


def case_timeline_changed(case_id: int) -> None:
    """Inside a transaction: it changes only what the case's own summary shows and no other
    answer does (its timeline: an organizer added, a regulator's reply)."""
    db.changed(case_scope(case_id))


def merchant_pages_changed(merchant_ids: Iterable[int]) -> None:
    """Inside a transaction: it changes what these merchants' pages show and the search does not
    (their reappearance alerts: which merchants are tied to them, those merchants' closed cases)."""
    db.changed(*(merchant_scope(m) for m in merchant_ids))


def everything() -> None:
    """Inside a transaction: it may change any public answer (a regulator renamed: every case
    that filed with it). Rare writes only: every cached public answer is made again."""
    db.changed(EVERYTHING)


def nothing_public() -> None:
    """Inside a transaction: it changes nothing a public read shows (no cache is emptied)."""
    db.changed()


class Generation:
    """A process's view of the versions (``redis`` None: nothing is cached). ``watch()`` raises
    them on every commit of this process until ``unwatch()``."""

    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis
        self.known: int | None = None  # the change counter, as last read
        self.versions: dict[str, int] = {}  # scope -> version, while the counter is ``known``
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
        self.versions = {}
        self.down_until = time.monotonic() + _REDIS_RETRY_SECONDS

    async def _read_counter(self, redis: Redis) -> None:
        """Ask Redis for the change counter (one at a time: while one asks, the others use the
        last answer); a counter that moved forgets the versions known. A read begun before a change
        of this process's may bring back the counter from before it: known is None since the
        change, so the versions are forgotten all the same and read again, after the change (and
        a read of versions begun before it fills a dictionary forgotten here)."""
        self._reading = True
        try:
            counter = int(await redis.get(KEY) or 0)
        finally:
            self._reading = False
        if counter != self.known or len(self.versions) > KNOWN_SCOPES:
            self.versions = {}
        self.known, self.read_at = counter, time.monotonic()

    async def keep_reading(self) -> None:
        """Read the change counter every ``REFRESH_SECONDS`` / 2 for as long as the app runs (its
        lifespan runs this as a task and cancels it), so that requests find it read."""
        redis = self.redis
        if redis is None:
            return
        while True:
            await asyncio.sleep(REFRESH_SECONDS / 2)
            if time.monotonic() < self.down_until or self._reading:
                continue
            try:
                await self._read_counter(redis)
            except (RedisError, OSError) as exc:
                self._failed(exc)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        """:meth:`keep_reading` as a task while the block runs."""
        task = asyncio.create_task(self.keep_reading())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def changed(self, scopes: db.Changes = None) -> None:
        """Public data of these scopes may have changed (a write committed; None: of any):
        raise their versions, then the change counter. An empty set: nothing to do."""
        redis = self.redis
        if redis is None or scopes == frozenset():
            return
        try:
            async with redis.pipeline(transaction=True) as pipe:
                for scope in sorted(scopes) if scopes is not None else [EVERYTHING]:
                    pipe.incr(VERSION_KEY + scope)
                    pipe.expire(VERSION_KEY + scope, VERSION_TTL_SECONDS)
                pipe.incr(KEY)
                await pipe.execute()
            self.known = None  # read again: another process (or app) may have raised it too
        except (RedisError, OSError) as exc:
            self._failed(exc)

    async def current(self, scope: str = EVERYTHING) -> str | None:
        """The version answers of ``scope`` may be cached under now (the version of everything
        and of the scope); None: cache nothing (no Redis)."""
        redis = self.redis
        now = time.monotonic()
        if redis is None or now < self.down_until:
            return None
        try:
            # unknown (at start, after a change of this process's), or not read for a while (no
            # keep_reading running, or it is waiting for Redis: then nobody else asks)
            if self.known is None or (now - self.read_at >= REFRESH_SECONDS and not self._reading):
                await self._read_counter(redis)
            versions = self.versions
            everything, own = versions.get(EVERYTHING), versions.get(scope)
            if everything is None or own is None:
                raw = await redis.mget(VERSION_KEY + EVERYTHING, VERSION_KEY + scope)
                everything, own = int(raw[0] or 0), int(raw[1] or 0)
                versions[EVERYTHING], versions[scope] = everything, own
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return None
        return f"{everything}.{own}"
