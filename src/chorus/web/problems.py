"""RFC 9457 problem+json answers for every error, in the caller's language."""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from chorus.errors import DomainError
from chorus.i18n import negotiate, t

PROBLEM_JSON = "application/problem+json"
_INDEX = re.compile(r"\.(\d+)(?=\.|$)")  # pydantic's "a.0.b" → our "a[0].b"
log = structlog.get_logger("chorus.web")


def _locale(request: Request[Any, Any, Any]) -> str:
    return negotiate(request.headers.get("accept-language"))


def problem(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> Response[dict[str, Any]]:
    locale = _locale(request)
    body: dict[str, Any] = {
        "type": f"urn:chorus:problem:{code}",
        "title": t(f"errors.title.{status}", locale),
        "status": status,
        "detail": t(f"errors.{code}", locale, **params),
        "code": code,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    locale = _locale(request)
    errors = [
        {"field": e.field, "message": t(f"errors.{e.code}", locale, **_localized(e.params, locale))}
        for e in exc.errors
    ]
    return problem(request, exc.status, exc.code, errors=errors or None, **_localized(exc.params, locale))


def _localized(params: dict[str, Any], locale: str) -> dict[str, Any]:
    """Parameters named ``*_label`` are catalog keys themselves (e.g. an identifier kind)."""
    return {k: t(v, locale) if k.endswith("_label") else v for k, v in params.items()}


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    if not extra:
        # Litestar raises this for an unparseable body too.
        return problem(request, 400, "malformed_body")
    errors = [
        {
            "field": _INDEX.sub(r"[\1]", str(item.get("key") or item.get("source") or "")),
            "message": str(item.get("message", "")),
        }
        for item in extra
        if isinstance(item, dict)
    ]
    return problem(request, 422, "validation", errors=errors)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, TooManyRequestsException):
        return problem(request, 429, "rate_limited", headers=headers)
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        return problem(request, 403, "csrf")
    if isinstance(exc, NotAuthorizedException):
        return problem(request, 401, "not_authenticated", headers=headers)
    code = {
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        413: "too_large",
        415: "unsupported_media_type",
    }.get(status)
    if code is None:
        if status >= 500:
            return _internal(request, exc)
        code = "bad_request"
        if status == 405:
            headers.setdefault("Allow", headers.get("allow", ""))
    return problem(request, status, code, headers=headers or None)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("request.failed", path=request.url.path, error=type(exc).__name__, exc_info=exc)
    return problem(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain,  # type: ignore[dict-item]
    ValidationException: _validation,  # type: ignore[dict-item]
    HTTPException: _http,  # type: ignore[dict-item]
    Exception: _internal,  # type: ignore[dict-item]
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "problem"]
