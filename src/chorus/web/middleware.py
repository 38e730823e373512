"""ASGI middleware: request ids + access log, and CSRF for cookie-authenticated requests."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from chorus.web.auth import SESSION_COOKIE

log = structlog.get_logger("chorus.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


REQUEST_ID_KEY = "chorus_request_id"


def _request_id(scope: Scope) -> str:
    """The id of this request: kept from X-Request-ID when sane, otherwise a new one."""
    existing = scope.get(REQUEST_ID_KEY)  # type: ignore[call-overload]
    if existing:
        return str(existing)
    incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    scope[REQUEST_ID_KEY] = request_id  # type: ignore[literal-required]
    return request_id


async def echo_request_id(message: Message, scope: Scope) -> None:
    """before_send hook: every response, error answers included, carries X-Request-ID."""
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)["x-request-id"] = _request_id(scope)


class RequestContextMiddleware:
    """Binds the request id to the log context and logs one line per request: method, path
    (never the query string), status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            log.info(
                "request",
                method=http["method"],
                path=http["path"],
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


def _has_bearer(scope: Scope) -> bool:
    return any(key == b"authorization" and value[:7].lower() == b"bearer " for key, value in scope["headers"])


class SessionCSRFMiddleware:
    """Litestar's double-submit CSRF check, applied only where it protects something:
    unsafe requests that would authenticate with the session cookie. Bearer requests and
    requests without a session cookie carry no ambient authority and pass. Safe requests
    always go through, so the ``csrftoken`` cookie is handed out."""

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        self.app = app
        self.csrf = CSRFMiddleware(app, config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        if method not in _SAFE_METHODS and (_has_bearer(scope) or SESSION_COOKIE not in _cookie_names(scope)):
            await self.app(scope, receive, send)
            return
        if method not in _SAFE_METHODS and not any(k == b"x-csrftoken" for k, _ in scope["headers"]):
            # Refuse before Litestar's check would parse a multipart body looking for a form
            # token: an upload must stay a stream for its handler.
            raise PermissionDeniedException("CSRF token verification failed")
        await self.csrf(scope, receive, send)


def csrf_config(secret: str, secure: bool) -> CSRFConfig:
    return CSRFConfig(
        secret=secret,
        cookie_name="csrftoken",
        header_name="x-csrftoken",
        cookie_secure=secure,
        cookie_samesite="lax",
        cookie_httponly=False,  # the browser UI reads it to echo it in the header
    )


__all__ = ["RequestContextMiddleware", "SessionCSRFMiddleware", "csrf_config", "echo_request_id"]
