"""Errors answered as HTML pages to the browser: every path but the API's (``/api/``), the API
documents (``/schema``) and ``/healthz``, which keep problem+json (chorus.web.problems).

A page that needs a signed-in caller redirects (303) to ``/login?next=<the page>``; every other
error is a page in the reader's language with what to do next, never a stack trace.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Template
from litestar.types import Scope

from chorus.errors import DomainError
from chorus.i18n import catalog, t
from chorus.web.auth import current_user
from chorus.web.middleware import REQUEST_ID_KEY
from chorus.web.pages import base_context, cached_user, login_redirect

log = structlog.get_logger("chorus.web")
_NOT_PAGES = ("/api/", "/schema", "/healthz")


def is_page_path(path: str) -> bool:
    """Whether an error on ``path`` is answered with an HTML page (else problem+json)."""
    return not (path.startswith(_NOT_PAGES) or path in ("/api", "/schema"))


def _status_and_code(exc: Exception) -> tuple[int, str, dict[str, str]]:
    if isinstance(exc, DomainError):
        return exc.status, exc.code, {}
    if isinstance(exc, ValidationException):
        return (422 if isinstance(exc.extra, list) and exc.extra else 400), "validation", {}
    if isinstance(exc, HTTPException):
        headers = dict(exc.headers or {})
        if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
            return 403, "csrf", headers
        if isinstance(exc, NotAuthorizedException):
            return 401, "not_authenticated", headers
        return exc.status_code, "", headers
    return 500, "internal", {}


async def resolve_caller(exc: Exception, scope: Scope) -> None:
    """Before an error page is drawn: who is asking, if a handler had not found out yet (a
    mistyped address matches no handler; a case that does not exist is refused before its
    handler asks). The error page's header then shows a signed-in member their own menu, not
    "登录". Litestar awaits this hook; the exception handler that draws the page may not await.
    Not for what a sign-in would not change, or what reading the session might fail on again:
    the login redirect (401), too many requests (429), the server's own errors (5xx)."""
    status, _, _ = _status_and_code(exc)
    if (
        scope["type"] != ScopeType.HTTP
        or not is_page_path(scope["path"])
        or status in (401, 429)
        or status >= 500
    ):
        return
    with contextlib.suppress(Exception):  # the page is drawn all the same, signed out
        await current_user(ASGIConnection(scope))


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The HTML answer to ``exc`` on a page path."""
    status, code, headers = _status_and_code(exc)
    if status == 401:
        return login_redirect(request)
    if status >= 500:
        log.error("request.failed", path=request.url.path, error=type(exc).__name__, exc_info=exc)
        status = status if status in (502, 503, 504, 507) else 500
    context = base_context(request, user=cached_user(request))
    locale = context["locale"]
    known = catalog(locale)
    detail_key = next(
        (k for k in (f"page.error.{status}.{code}", f"page.error.{status}") if k in known),
        "page.error.500" if status >= 500 else "page.error.400",
    )
    retry_after = headers.get("retry-after") or headers.get("Retry-After")
    title_key = f"errors.title.{status}" if f"errors.title.{status}" in known else "errors.title.500"
    context.update(
        title=t(title_key, locale),
        detail=t(detail_key, locale),
        status=status,
        retry_after=retry_after if retry_after and retry_after.isdigit() else None,
        request_id=request.scope.get(REQUEST_ID_KEY) if status >= 500 else None,  # type: ignore[call-overload]
    )
    kept = {k: v for k, v in headers.items() if k.lower() in ("retry-after", "allow")}
    return Template(
        template_name="errors/error.html",
        context=context,
        status_code=status,
        headers={"cache-control": "no-store", **kept},
        media_type="text/html",
    )


__all__ = ["error_page", "is_page_path", "resolve_caller"]
