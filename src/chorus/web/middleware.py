"""ASGI middleware: the client address (trusted proxies), request ids + access log, body types
of unsafe API requests, CSRF for cookie-authenticated requests, and security headers."""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import structlog
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_token
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState
from multipart import parse_options_header

from chorus.errors import NotFound, UnsupportedType
from chorus.ids import MAX_ID
from chorus.logs import AccessLog
from chorus.settings import IPNetwork, Settings
from chorus.web.auth import SESSION_COOKIE

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


REQUEST_ID_KEY = "chorus_request_id"
PUBLIC_CACHE_FLAG = "chorus_public_cache"  # set by chorus.web.publiccache on the answers it gives


def _request_id(scope: Scope) -> str:
    """The id of this request: kept from X-Request-ID when sane, otherwise a new one."""
    existing = scope.get(REQUEST_ID_KEY)  # type: ignore[call-overload]
    if existing:
        return str(existing)
    incoming = _header(scope, b"x-request-id")
    request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)
    scope[REQUEST_ID_KEY] = request_id  # type: ignore[literal-required]
    return request_id


async def echo_request_id(message: Message, scope: Scope) -> None:
    """before_send hook: every response, error answers included, carries X-Request-ID."""
    if message["type"] == "http.response.start":
        headers = [(k, v) for k, v in message.get("headers") or () if k.lower() != b"x-request-id"]
        headers.append((b"x-request-id", _request_id(scope).encode("latin-1")))
        message["headers"] = headers


class RequestContextMiddleware:
    """Binds the request id to the log context and logs one line per request: method, path
    (never the query string), status, duration."""

    def __init__(self, app: ASGIApp, access: AccessLog) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        http: HTTPScope = scope
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=_request_id(scope))
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # answered by the outer exception handler (e.g. CSRF, rate limit)
            status = int(getattr(exc, "status_code", 500))
            raise
        finally:
            client = http.get("client")
            self.access.request(
                method=http["method"],
                path=http["path"],
                client=client[0] if client else None,
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()


def _cookie_names(scope: Scope) -> set[str]:
    names: set[str] = set()
    for key, value in scope["headers"]:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name = part.split("=", 1)[0].strip()
                if name:
                    names.add(name)
    return names


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope["headers"]:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                found, sep, content = part.strip().partition("=")
                if sep and found == name:
                    return content
    return None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").strip()
    return ""


def _has_bearer(scope: Scope) -> bool:
    return any(key == b"authorization" and value[:7].lower() == b"bearer " for key, value in scope["headers"])


class SessionCSRFMiddleware:
    """Litestar's double-submit CSRF check, applied only where it protects something:
    unsafe requests that would authenticate with the session cookie. Bearer requests and
    requests without a session cookie carry no ambient authority and pass. Safe requests
    go through it, so the ``csrftoken`` cookie is handed out, except API reads without the
    session cookie (nothing they could write with it)."""

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        self.app = app
        self.csrf = CSRFMiddleware(app, config)
        # the Set-Cookie header Litestar's check writes, made once (it built a Cookie and copied
        # it field by field per request: most of a cached page's cost to a first-time caller)
        self.cookie_header = (
            Cookie(
                key=config.cookie_name,
                value=_TOKEN_SLOT,
                path=config.cookie_path,
                secure=config.cookie_secure,
                httponly=config.cookie_httponly,
                samesite=config.cookie_samesite,
                domain=config.cookie_domain,
            )
            .to_header(header="")
            .encode("latin-1")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        opt = getattr(scope.get("route_handler"), "opt", None) or {}
        if opt.get("csrf") is False:
            # The route's authority is a signed token in its URL, never the session cookie (the
            # e-mail's unsubscribe button), so a cross-site post gains nothing from the cookie.
            await self.app(scope, receive, send)
            return
        page = not scope["path"].startswith("/api/")
        if method in _SAFE_METHODS and not page and SESSION_COOKIE not in _cookie_names(scope):
            # An API read without the session cookie needs no token: it could not write with the
            # cookie anyway, and a signed-in browser's reads hand it out. Without the cookie the
            # public reads' answers stay ones a CDN may keep (and cost a third less to send).
            await self.app(scope, receive, send)
            return
        if method not in _SAFE_METHODS and page and _header(scope, b"sec-fetch-site") == "cross-site":
            # A page form posted from another site, signed in or not (login CSRF too): the
            # browser says where the form was; ours never post across sites.
            raise PermissionDeniedException("CSRF token verification failed")
        if method not in _SAFE_METHODS and (_has_bearer(scope) or SESSION_COOKIE not in _cookie_names(scope)):
            await self.app(scope, receive, send)
            return
        if method not in _SAFE_METHODS and not any(k == b"x-csrftoken" for k, _ in scope["headers"]):
            media_type = parse_options_header(_header(scope, b"content-type"))[0].lower()
            if page and media_type == "application/x-www-form-urlencoded":
                # A page form without JavaScript: Litestar's check reads the hidden field
                # (a small body, parsed once and kept for the handler).
                await self.csrf(scope, receive, send)
                return
            if page and media_type == "multipart/form-data":
                # The no-JavaScript upload: the token is in the form's action (query string), checked
                # like Litestar checks it, so the body stays a stream for its handler.
                self._check_query_token(scope)
                await self.app(scope, receive, send)
                return
            # Refuse before Litestar's check would parse a multipart body looking for a form
            # token: an upload must stay a stream for its handler.
            raise PermissionDeniedException("CSRF token verification failed")
        if method in self.csrf.config.safe_methods:
            await self._safe(scope, receive, send)
            return
        await self.csrf(scope, receive, send)

    async def _safe(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What Litestar's check does for a safe request: the caller's token (its cookie's, or a
        new one) for the page's forms, and the cookie handed out when it had none."""
        config = self.csrf.config
        cookie = _cookie(scope, config.cookie_name)
        token = cookie or generate_csrf_token(secret=config.secret)
        ScopeState.from_scope(scope).csrf_token = token
        if cookie:
            await self.app(scope, receive, send)
            return
        header = self.cookie_header.replace(_TOKEN_SLOT.encode(), token.encode("latin-1"))

        async def handing_out(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"set-cookie", header)]
            await send(message)

        await self.app(scope, receive, handing_out)

    def _check_query_token(self, scope: Scope) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        sent = (query.get(CSRF_FIELD) or [""])[0]
        cookie = _cookie(scope, self.csrf.config.cookie_name)
        if not (sent and cookie and self.csrf._csrf_tokens_match(sent, cookie)):
            raise PermissionDeniedException("CSRF token verification failed")
        ScopeState.from_scope(scope).csrf_token = sent


_TOKEN_SLOT = "chorustokenslot"  # noqa: S105 - where the token goes in the prepared Set-Cookie header
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrftoken"
CSRF_FIELD = "_csrf_token"  # the form field Litestar's check reads (and a multipart page form's query)


def csrf_config(secret: str, secure: bool) -> CSRFConfig:
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_secure=secure,
        cookie_samesite="lax",
        cookie_httponly=False,  # the browser UI reads it to echo it in the header
    )


# --- the client address -----------------------------------------------------------------


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: Iterable[str], trusted: tuple[IPNetwork, ...]) -> str:
    """The client's address: the peer of the connection, unless that peer is a trusted proxy;
    then the right-most ``X-Forwarded-For`` entry that is not a trusted proxy itself (entries
    left of it were written by the client and prove nothing)."""

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    current = _address(peer)
    if not is_trusted(current):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage where a proxy should have written an address: believe the last hop
        current = address
        if not is_trusted(address):
            break
    return str(current) if current is not None else peer


class ClientAddressMiddleware:
    """Settles the client address once, first thing: ``scope["client"]`` becomes the address
    every later layer sees (rate limits, logs). ``X-Forwarded-For`` counts only when the peer
    is one of ``CHORUS_TRUSTED_PROXIES``; from anyone else it is ignored."""

    def __init__(self, app: ASGIApp, trusted: tuple[IPNetwork, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.trusted and client and scope["type"] in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
            if forwarded:
                address = client_address(client[0], forwarded, self.trusted)
                scope["client"] = (address, client[1] if address == client[0] else 0)
        await self.app(scope, receive, send)


# --- body types of unsafe API requests ---------------------------------------------------

JSON_ONLY = ("application/json",)
# Routes that take another body. ``None``: any type — the inbound mail route is authorized by
# its bearer secret alone (no cookie a cross-site form could ride on), and mail servers hand the
# message over as message/rfc822, text/plain or whatever their HTTP client defaults to.
# A route may also declare ``opt={"body_types": (...)}``.
BODY_TYPES: dict[str, tuple[str, ...] | None] = {
    "uploadEvidence": ("multipart/form-data",),
    "receiveEmail": None,
}


def _has_body(headers: dict[bytes, bytes]) -> bool:
    if b"transfer-encoding" in headers:
        return True
    return headers.get(b"content-length", b"0").strip() not in (b"", b"0")


class BodyTypeMiddleware:
    """Unsafe requests under ``/api/`` must say their body is JSON (or multipart where a file
    is uploaded): a cross-site HTML form can send only text/plain, urlencoded or multipart,
    so refusing those (415) keeps other sites from posting to the JSON API in a victim's
    browser (login CSRF). A request without a body and without a type passes (logout, mark read)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == ScopeType.HTTP
            and scope["method"] not in _SAFE_METHODS
            and scope["path"].startswith("/api/")
        ):
            allowed = self._allowed(scope)
            if allowed is not None:
                headers = dict(scope["headers"])
                raw = headers.get(b"content-type", b"").decode("latin-1")
                media_type = parse_options_header(raw)[0].lower() if raw.strip() else ""
                if media_type not in allowed and (media_type or _has_body(headers)):
                    raise UnsupportedType("unsupported_body_type", allowed=", ".join(allowed))
        await self.app(scope, receive, send)

    @staticmethod
    def _allowed(scope: Scope) -> tuple[str, ...] | None:
        handler = scope.get("route_handler")
        opt = getattr(handler, "opt", None) or {}
        if "body_types" in opt:
            declared: tuple[str, ...] | None = opt["body_types"]
            return declared
        return BODY_TYPES.get(str(getattr(handler, "operation_id", "") or ""), JSON_ONLY)


# --- ids no column can hold -----------------------------------------------------------------


class IdRangeMiddleware:
    """An integer path parameter, or a query parameter the handler takes as ``int``, outside the
    id columns' range is a 404 before any guard or query runs (the database would refuse the
    number: a 500). A middleware rather than a guard: Litestar copies the route handler for each
    guard call, 25 µs of the 180 µs a public answer without a query takes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.query_ids: dict[int, tuple[str, ...]] = {}  # id(route handler) → its int query parameters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            values: list[object] = list(scope.get("path_params", {}).values())
            names = self._query_ids(scope.get("route_handler"))
            if names and scope.get("query_string"):
                query = ASGIConnection[Any, Any, Any, Any](scope).query_params
                for name in names:
                    raw = query.get(name)
                    if raw is not None:
                        values.append(int(raw) if raw.strip().lstrip("+-").isdigit() else None)
            for value in values:
                if isinstance(value, int) and not isinstance(value, bool) and not 0 < value <= MAX_ID:
                    raise NotFound()
        await self.app(scope, receive, send)

    def _query_ids(self, handler: Any) -> tuple[str, ...]:
        found = self.query_ids.get(id(handler))
        if found is None:
            signature = getattr(handler, "parsed_fn_signature", None)
            parameters = signature.parameters.items() if signature is not None else ()
            found = self.query_ids[id(handler)] = tuple(n for n, f in parameters if f.annotation is int)
        return found


# --- security headers --------------------------------------------------------------------

# Pages: everything from this origin only, no inline script or style, never framed.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# The Scalar API reference (/schema/, vendored) injects its stylesheets at run time (seen in
# Chromium: a dozen refusals under style-src 'self'), so styles may be inline on that page only;
# scripts stay 'self'. Swagger UI (/schema/swagger) runs under PAGE_CSP.
SCALAR_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
SCALAR_PATHS = frozenset({"/schema", "/schema/"})
# Anything else (JSON, files): nothing runs, nothing loads, never framed.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'"


def _credentials(scope: Scope) -> bool:
    return _has_bearer(scope) or SESSION_COOKIE in _cookie_names(scope)


def security_headers(settings: Settings) -> Callable[[Message, Scope], Awaitable[None]]:
    """before_send hook: the security headers of every response, error answers included.
    ``Cache-Control: no-store`` on every API answer (members, evidence, notifications, me, …:
    personal unless a route says ``opt={"cacheable": True}``) and on HTML sent to a signed-in
    caller; a handler's own CSP is kept and gains ``frame-ancestors 'none'``."""
    fixed = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"x-frame-options", b"DENY"),
    ]
    if settings.public_url.startswith("https://"):
        fixed.append((b"strict-transport-security", b"max-age=63072000"))
    replaced = {name for name, _ in fixed} | {b"content-security-policy", b"cache-control"}
    csp = {"page": PAGE_CSP.encode(), "scalar": SCALAR_CSP.encode(), "other": OTHER_CSP.encode()}

    async def hook(message: Message, scope: Scope) -> None:
        # one pass over the raw headers (this runs for every response: a public read served
        # from the cache costs little more than this)
        if message["type"] != "http.response.start":
            return
        kept: list[tuple[bytes, bytes]] = []
        content_type = own_csp = cache_control = b""
        cookie = False
        for name, value in message.get("headers") or ():
            lower = name.lower()
            if lower in replaced:
                if lower == b"content-security-policy":
                    own_csp = value
                elif lower == b"cache-control":
                    cache_control = value
                continue
            if lower == b"content-type":
                content_type = value
            elif lower == b"set-cookie":
                cookie = True
            kept.append((name, value))
        kept += fixed
        path: str = scope.get("path", "")
        html = content_type.startswith(b"text/html")
        if own_csp:
            if b"frame-ancestors" not in own_csp:
                own_csp = own_csp.rstrip(b"; ") + b"; frame-ancestors 'none'"
            kept.append((b"content-security-policy", own_csp))
        elif html:
            kept.append((b"content-security-policy", csp["scalar" if path in SCALAR_PATHS else "page"]))
        else:
            kept.append((b"content-security-policy", csp["other"]))
        if scope.get(PUBLIC_CACHE_FLAG):  # type: ignore[call-overload]
            # the public cache's answer to an anonymous caller (chorus.web.publiccache): shared
            # caches may keep it, unless it hands this caller a cookie (the CSRF token)
            if cookie:
                cache_control = cache_control.replace(b"public", b"private")
        else:
            opt = getattr(scope.get("route_handler"), "opt", None) or {}
            personal = path.startswith("/api/") or (html and _credentials(scope))
            if personal and not opt.get("cacheable") and b"no-store" not in cache_control:
                cache_control = b"no-store"
        if cache_control:
            kept.append((b"cache-control", cache_control))
        message["headers"] = kept

    return hook


__all__ = [
    "BodyTypeMiddleware",
    "ClientAddressMiddleware",
    "IdRangeMiddleware",
    "RequestContextMiddleware",
    "SessionCSRFMiddleware",
    "client_address",
    "csrf_config",
    "echo_request_id",
    "security_headers",
]


# What an answer given before the request's body was read reads of that body, at most: beyond it
# the connection is closed unread as before (a proxy then says 502 for that one request).
DRAIN_MAX_BYTES = 64 * 1024 * 1024


class DrainUnreadBodyMiddleware:
    """An answer that comes before the request's body was read through (413 for a body over the
    limit, 401 for an upload without a session, 415) goes out only after the rest of the body was
    read and dropped. uvicorn closes a connection whose request body was not read; a proxy in
    front (nginx) still sending that body then meets a closed socket and answers 502 instead of
    ours (seen behind nginx: 2 of 4 uploads over CHORUS_UPLOAD_MAX_BYTES). Outermost layer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        read_through = False

        async def tracked() -> Any:
            nonlocal read_through
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                read_through = True
            return message

        async def answer(message: Any) -> None:
            if message["type"] == "http.response.start" and not read_through:
                dropped = 0
                while not read_through and dropped <= DRAIN_MAX_BYTES:
                    dropped += len((await tracked()).get("body", b""))
            await send(message)

        await self.app(scope, tracked, answer)
