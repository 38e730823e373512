"""The public cache: the answers of the public reads, made once and served to every anonymous
caller, with ``ETag`` / ``If-None-Match`` (304) and a ``Cache-Control`` a CDN may honour.

Which reads: the routes named in ``PUBLIC_READS`` (or marked ``opt={"public_cache": True}``):
``GET /api/v1/cases/{id}``, ``GET /api/v1/merchants?q=``, ``GET /api/v1/merchants/{id}`` and the
pages ``/merchants?q=`` and ``/merchants/{id}``. Only ``GET`` answers ``200`` to a caller with no
credentials (no bearer token, no session cookie, no flash notice) are kept or served: a signed-in
member's view is never stored and never served to anyone, and a signed-in member is never
served the anonymous one.

Where: in Redis (``litestar.stores.redis.RedisStore``, namespace ``chorus:public-cache``), shared
by every process, under the current version of what the answer shows (:mod:`chorus.freshness`:
a case's summary under its case's, a merchant's page under its merchant's, the search under the
search's), which the committed write transactions changing it raise; in front of it a small copy
per process, so a hit costs no round trip. How stale: a change is seen within
``freshness.REFRESH_SECONDS`` (0.5 s) by every process; whatever is cached expires after
``CHORUS_PUBLIC_CACHE_SECONDS`` (default 5) in any case (0: no cache), and CDNs and browsers are
told the same ``max-age``. A kept answer is made again shortly before it runs out
(``REFRESH_AHEAD_SECONDS``) by the first request to see it due, while the others are still served
it: when a crowd reads one address nobody waits for the answer to be made again.

Pages carry a CSRF token (the language form): kept with a placeholder and filled in per request
with the caller's own token; their ETag includes it, so no two callers share one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, cast

import structlog
from litestar.enums import ScopeType
from litestar.stores.redis import RedisStore
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)
from litestar.utils.scope.state import ScopeState
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chorus import freshness
from chorus.freshness import Generation
from chorus.i18n import LOCALES, negotiate
from chorus.web.middleware import PUBLIC_CACHE_FLAG

log = structlog.get_logger(__name__)

STATE_KEY = "public_cache"
SCOPE_FLAG = PUBLIC_CACHE_FLAG  # on the answers this module gives (see middleware.security_headers)
# operation ids of the public API reads and names of the public pages
PUBLIC_READS = frozenset({"getCase", "searchMerchants", "getMerchant", "merchant_check", "merchant_warning"})
# whose version an answer is kept under (freshness): the read's name -> its scope (path parameter)
SCOPES: dict[str, tuple[str, str | None]] = {
    "getCase": ("case", "case_id"),
    "getMerchant": ("merchant", "merchant_id"),
    "merchant_warning": ("merchant", "merchant_id"),
    "searchMerchants": (freshness.SEARCH, None),
    "merchant_check": (freshness.SEARCH, None),
}
MAX_BODY = 512 * 1024  # larger answers are not kept
MAX_QUERY = 400  # longer query strings are not kept (nobody types them; a flood of them fills nothing)
LOCAL_ENTRIES = 2000  # per process
REFRESH_AHEAD_SECONDS = 1.0  # (at most a fifth of CHORUS_PUBLIC_CACHE_SECONDS)
TOKEN_MARK = b"\x00csrf\x00"  # where a page's CSRF token goes
_SESSION_COOKIE = b"chorus_session"
_FLASH_COOKIE = b"chorus_flash"
_LOCALE_COOKIE = "chorus_locale"


@dataclass(frozen=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str  # of the body as kept (with TOKEN_MARK)
    has_token: bool
    made_at: float  # time.time() when rendered: no copy outlives made_at + CHORUS_PUBLIC_CACHE_SECONDS

    def dump(self) -> bytes:
        head = {
            "s": self.status,
            "h": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
            "e": self.etag,
            "t": self.has_token,
            "m": self.made_at,
        }
        return json.dumps(head).encode() + b"\n" + self.body

    @classmethod
    def load(cls, raw: bytes) -> Entry:
        head_raw, _, body = raw.partition(b"\n")
        head = json.loads(head_raw)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in head["h"]]
        return cls(head["s"], headers, body, head["e"], head["t"], head["m"])


def _etag(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


class PublicCache:
    """The shared store (Redis), this process's copies, the generation, and one render at a
    time per key in this process."""

    def __init__(self, redis: Redis | None, generation: Generation, seconds: int) -> None:
        self.generation = generation
        self.seconds = seconds
        self.shared = RedisStore(redis, namespace="chorus:public-cache") if redis is not None else None
        self.local: dict[str, tuple[float, Entry]] = {}  # key -> (expires at, monotonic; entry)
        self.rendering: dict[str, asyncio.Future[Entry | None]] = {}
        self.cache_control = f"public, max-age={seconds}".encode()
        # a kept answer is made again this long before it runs out, by one request while the
        # others are still served it: nobody waits for it, as all did when it ran out
        self.refresh_ahead = min(REFRESH_AHEAD_SECONDS, seconds * 0.2)

    @property
    def enabled(self) -> bool:
        return self.shared is not None and self.seconds > 0

    async def key(self, variant: str, scope: Scope, name: str | None) -> str | None:
        gen = await self.generation.current(_scope_of(name, scope))
        if gen is None:
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        return f"{gen}:{variant}:{scope['path']}?{query}"

    def kept(self, key: str) -> tuple[Entry | None, bool]:
        """This process's copy of the answer (None: none alive), and whether it is due: less than
        ``refresh_ahead`` seconds of it are left, and nobody in this process is renewing it yet
        (the caller then renews it; everyone else is still served the copy meanwhile)."""
        found = self.local.get(key)
        if found is None:
            return None, False
        left = found[0] - time.monotonic()
        if left <= 0:
            del self.local[key]
            return None, False
        return found[1], left < self.refresh_ahead and key not in self.rendering

    async def shared_entry(self, key: str) -> Entry | None:
        """The answer another process (or this one) kept in Redis, while more than
        ``refresh_ahead`` seconds of it are left (else it is made again); kept here too."""
        assert self.shared is not None
        try:
            raw = await self.shared.get(key)
        except (RedisError, OSError) as exc:
            log.warning("public_cache.redis_unavailable", error=type(exc).__name__)
            return None
        if raw is None:
            return None
        entry = Entry.load(raw)
        left = entry.made_at + self.seconds - time.time()
        if left <= self.refresh_ahead:
            return None
        self._keep_local(key, entry, left)
        return entry

    def _keep_local(self, key: str, entry: Entry, seconds: float) -> None:
        if len(self.local) >= LOCAL_ENTRIES:  # mostly entries of old generations
            now = time.monotonic()
            self.local = {k: v for k, v in self.local.items() if v[0] > now}
            if len(self.local) >= LOCAL_ENTRIES:
                self.local.clear()
        self.local[key] = (time.monotonic() + seconds, entry)

    async def put(self, key: str, entry: Entry) -> None:
        self._keep_local(key, entry, self.seconds)
        assert self.shared is not None
        try:
            await self.shared.set(key, entry.dump(), expires_in=self.seconds)
        except (RedisError, OSError) as exc:
            log.warning("public_cache.redis_unavailable", error=type(exc).__name__)


def _headers(scope: Scope) -> tuple[bool, dict[bytes, bytes]]:
    """(whether the caller brought credentials or a notice, the headers this module reads)."""
    personal = False
    wanted: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name == b"authorization" or (
            name == b"cookie" and (_SESSION_COOKIE in value or _FLASH_COOKIE in value)
        ):
            personal = True
        elif name in (b"accept-language", b"if-none-match", b"hx-request", b"hx-history-restore-request"):
            wanted[name] = value
        elif name == b"cookie":
            wanted[b"cookie"] = wanted.get(b"cookie", b"") + b";" + value
    return personal, wanted


def _locale(headers: dict[bytes, bytes]) -> str:
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == _LOCALE_COOKIE and value in LOCALES:
            return value
    return negotiate(headers.get(b"accept-language", b"").decode("latin-1") or None)


def _variant(scope: Scope, headers: dict[bytes, bytes], page: bool) -> str:
    """The answers one address may give an anonymous caller: JSON is one; a page depends on
    the language, and ``/merchants`` answers htmx with only the results."""
    if not page:
        return "api"
    fragment = headers.get(b"hx-request") == b"true" and headers.get(b"hx-history-restore-request") != b"true"
    return f"page:{_locale(headers)}:{'htmx' if fragment else 'full'}"


def _scope_of(name: str | None, scope: Scope) -> str:
    """The freshness scope of a read's answer (everything for a read not in ``SCOPES``)."""
    kind, param = SCOPES.get(name or "", (freshness.EVERYTHING, None))
    if param is None:
        return kind
    value = scope.get("path_params", {}).get(param)
    return f"{kind}:{value}" if isinstance(value, int) else freshness.EVERYTHING


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")]
    return b"*" in tags or etag in tags


class PublicCacheMiddleware:
    """Serves the public reads from the public cache, keeps what they answer, and answers
    ``If-None-Match`` with 304. Other routes and personal requests pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache: PublicCache | None = None
        name: str | None = None
        if scope["type"] == ScopeType.HTTP and scope["method"] == "GET":
            handler = scope.get("route_handler")
            opt = getattr(handler, "opt", None) or {}
            name = getattr(handler, "operation_id", None) or getattr(handler, "name", None)
            if opt.get("public_cache") or name in PUBLIC_READS:
                cache = scope["app"].state.get(STATE_KEY)
        if cache is None or not cache.enabled or len(scope.get("query_string", b"")) > MAX_QUERY:
            await self.app(scope, receive, send)
            return
        personal, headers = _headers(scope)
        if personal:
            await self.app(scope, receive, send)
            return
        page = not scope["path"].startswith("/api/")
        key = await cache.key(_variant(scope, headers, page), scope, name)
        if key is None:
            await self.app(scope, receive, send)
            return
        entry, due = cache.kept(key)
        if entry is None or due:
            entry = await self._render(cache, key, scope, receive, send)
            if entry is None:
                return  # answered as it was (not kept)
        await self._answer(entry, scope, headers, cache, send)

    async def _render(
        self, cache: PublicCache, key: str, scope: Scope, receive: Receive, send: Send
    ) -> Entry | None:
        """The answer kept in Redis, or else the handler's answer, kept when it is a 200 without
        cookies; one request per key at a time in this process does this, the others wait for
        it (or, while it renews a copy not yet run out, are served that copy)."""
        waiting = cache.rendering.get(key)
        if waiting is not None:
            found = await asyncio.shield(waiting)
            if found is not None:
                return found
        future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        if waiting is None:
            cache.rendering[key] = future
        try:
            entry = await cache.shared_entry(key)  # (when renewing: another process's newer one)
            if entry is None:
                entry = await self._capture(scope, receive, send)
                if entry is not None:
                    await cache.put(key, entry)
            future.set_result(entry)
            return entry
        except BaseException:
            future.set_result(None)
            raise
        finally:
            if cache.rendering.get(key) is future:
                del cache.rendering[key]

    async def _capture(self, scope: Scope, receive: Receive, send: Send) -> Entry | None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # not kept: the rest goes straight through

        async def capture(message: Message) -> None:
            nonlocal start, size, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                cookies = any(k == b"set-cookie" for k, _ in message.get("headers", []))
                if message["status"] != 200 or cookies:
                    passing = True
                    await send(message)
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > MAX_BODY:
                    passing = True
                    assert start is not None
                    await send(start)
                    await send({**message, "body": b"".join(chunks)})

        await self.app(scope, receive, capture)
        if passing or start is None:
            return None
        body = b"".join(chunks)
        token = _token(scope)
        has_token = bool(token) and token.encode() in body
        if has_token:
            body = body.replace(token.encode(), TOKEN_MARK)
        raw_headers = cast(Iterable[tuple[bytes, bytes]], start.get("headers", []))
        kept = [(k, v) for k, v in raw_headers if k not in (b"content-length", b"etag")]
        return Entry(200, kept, body, _etag(body), has_token, time.time())

    async def _answer(
        self, entry: Entry, scope: Scope, headers: dict[bytes, bytes], cache: PublicCache, send: Send
    ) -> None:
        body, etag = entry.body, entry.etag
        if entry.has_token:
            token = _token(scope).encode()
            body = body.replace(TOKEN_MARK, token)
            etag = f"{etag}-{_etag(token)[:8]}"
        tag = f'"{etag}"'.encode()
        scope[SCOPE_FLAG] = True  # type: ignore[literal-required]
        common = [(b"etag", tag), (b"cache-control", cache.cache_control)]
        if _matches(headers.get(b"if-none-match"), tag):
            vary = [(k, v) for k, v in entry.headers if k == b"vary"]
            await send(
                HTTPResponseStartEvent(type="http.response.start", status=304, headers=[*vary, *common])
            )
            await send(HTTPResponseBodyEvent(type="http.response.body", body=b"", more_body=False))
            return
        out = [*entry.headers, *common, (b"content-length", str(len(body)).encode())]
        await send(HTTPResponseStartEvent(type="http.response.start", status=entry.status, headers=out))
        await send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=False))


def _token(scope: Scope) -> str:
    token = ScopeState.from_scope(scope).csrf_token
    return token if isinstance(token, str) else ""


def install(
    state: MutableMapping[str, Any], redis: Redis | None, generation: Generation, seconds: int
) -> None:
    """Put the app's public cache where the middleware finds it."""
    state[STATE_KEY] = PublicCache(redis, generation, seconds)


__all__ = ["PUBLIC_READS", "PublicCache", "PublicCacheMiddleware", "install"]
