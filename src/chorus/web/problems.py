"""RFC 9457 problem+json answers for every error, in the caller's language."""

from __future__ import annotations

import inspect
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import asyncpg.exceptions
import structlog
from litestar import Request, Response, Router
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Schema,
    SecurityScheme,
)
from litestar.openapi.spec import Operation as OpenAPIOperation
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from pydantic import BaseModel
from pydantic import Field as PydanticField

from chorus import db
from chorus.errors import DomainError
from chorus.i18n import negotiate, t
from chorus.web.auth import DEPENDENCIES
from chorus.web.errorpages import error_page, is_page_path
from chorus.web.guards import signs_in

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
        {"field": e.field, "message": t(f"errors.{e.code}", locale, **localized_params(e.params, locale))}
        for e in exc.errors
    ]
    params = localized_params(exc.params, locale)
    return problem(request, exc.status, exc.code, errors=errors or None, **params)


def localized_params(params: dict[str, Any], locale: str) -> dict[str, Any]:
    """Parameters named ``*_label`` are catalog keys themselves (e.g. an identifier kind)."""
    return {k: t(v, locale) if k.endswith("_label") else v for k, v in params.items()}


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    if not extra:
        # Litestar raises this for an unparseable body too.
        return problem(request, 400, "malformed_body")
    errors = [
        {
            "field": _INDEX.sub(
                r"[\1]", _sent_name(request, str(item.get("key") or item.get("source") or ""))
            ),
            "message": str(item.get("message", "")),
        }
        for item in extra
        if isinstance(item, dict)
    ]
    return problem(request, 422, "validation", errors=errors)


def _sent_name(request: Request[Any, Any, Any], key: str) -> str:
    """A refused parameter under the name the client sent: Litestar names the handler's argument
    (``show`` of ``QueryParameter(name="state")``, a name Litestar keeps for itself)."""
    handler = request.scope.get("route_handler")
    field = handler.parsed_fn_signature.parameters.get(key) if handler is not None else None
    sent = getattr(field.kwarg_definition, "name", None) if field is not None else None
    return sent if isinstance(sent, str) and sent else key


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


RETRY_AFTER_SECONDS = 5  # a database restart takes seconds; the pool reconnects by itself


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database is away for now (restarting, refusing connections, a lost connection):
    503 with Retry-After, in the caller's language. The request's transaction, if any, was not
    committed, so nothing of it was written. Any other error of these types is a 500."""
    if not db.is_unavailable(exc):
        return _or_page(_internal)(request, exc)
    log.warning("request.database_unavailable", path=request.url.path, error=type(exc).__name__)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_page_path(request.url.path):
        return error_page(request, ServiceUnavailableException(headers=headers))
    return problem(request, 503, "unavailable", headers=headers)


def _or_page(api: Callable[[Request[Any, Any, Any], Any], Response[Any]]) -> Callable[..., Response[Any]]:
    """The API's answer on /api/ (and the documents); an HTML page anywhere else."""

    def handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        if is_page_path(request.url.path):
            return error_page(request, exc)
        return api(request, exc)

    return handler


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _or_page(_domain),
    ValidationException: _or_page(_validation),
    HTTPException: _or_page(_http),
    Exception: _or_page(_internal),
    # chorus.db.is_unavailable: a database that cannot be reached for now is a 503
    ConnectionError: _unavailable,
    sqlite3.OperationalError: _unavailable,
    asyncpg.exceptions.PostgresConnectionError: _unavailable,
    asyncpg.exceptions.OperatorInterventionError: _unavailable,
    asyncpg.exceptions.TooManyConnectionsError: _unavailable,
    asyncpg.exceptions.InterfaceError: _unavailable,
    asyncpg.exceptions.InternalClientError: _unavailable,
}


# --- the same answers as the OpenAPI document describes them ----------------------------


class ProblemField(BaseModel):
    """One refused field of a request."""

    field: str = PydanticField(description="where, e.g. ``merchant.identifiers[2].value``")
    message: str


class Problem(BaseModel):
    """An error answer (RFC 9457 ``application/problem+json``)."""

    type: str = PydanticField(description="``urn:chorus:problem:<code>``")
    title: str
    status: int
    detail: str
    code: str = PydanticField(description="stable machine-readable reason, e.g. ``already_member``")
    instance: str = PydanticField(description="the request's path")
    errors: list[ProblemField] = PydanticField(
        default_factory=list, description="validation answers: one entry per refused field"
    )


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` for error answers: each status as a ``Problem``. A route declares
    with it the statuses its use case raises that cannot be told from its signature (409,
    413 …): ``@post(..., responses=problems(409))``; ``documented`` adds the rest."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=HTTPStatus(status).phrase,
            generate_examples=False,
        )
        for status in sorted(statuses)
    }


def raw_bytes(description: str) -> ResponseSpec:
    """An OpenAPI answer of bytes of any media type (a download)."""
    return ResponseSpec(
        data_container=bytes, media_type="*/*", description=description, generate_examples=False
    )


_BINARY = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
_OCTETS = "application/octet-stream"


@dataclass
class Operation(OpenAPIOperation):
    """An operation whose downloads (a ZIP, the evidence's own type) are documented as binary,
    also as ``application/octet-stream``: the one binary type client generators take, while
    the real type stays listed for clients and conformance checks."""

    def __post_init__(self) -> None:
        for answer in (self.responses or {}).values():
            if not isinstance(answer, OpenAPIResponse) or not (content := answer.content):
                continue
            if any(is_json(t) or t.startswith("text/") for t in content):
                continue
            for media_type, media in content.items():
                # any type at all (an evidence file): no schema, nothing to decode the bytes by
                media.schema = None if media_type == "*/*" else _BINARY
            if _OCTETS not in content:
                answer.content = {_OCTETS: OpenAPIMediaType(schema=_BINARY), **content}


def is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


# The dependency (chorus.web.auth) that refuses anonymous callers (401); the route's guards
# (chorus.web.guards) refuse them too, and others (403).
_AUTHENTICATED = frozenset({"user"})
_NOT_QUERY = frozenset(
    {"self", "request", "data", "state", "scope", "headers", "cookies", "settings", "maybe_user"}
)
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BEARER = "BearerToken"


def error_statuses(handler: HTTPRouteHandler, path_parameters: Iterable[str]) -> set[int]:
    """The error statuses a route can answer, told from its declaration: path ids (404), a body
    (400 malformed, 413 too large, 415 another type, 422 invalid), query parameters (400/422),
    an authenticated caller (401/403), guards (403; the credential rate limit 429)."""
    names = set(inspect.signature(handler.fn).parameters)
    path = set(path_parameters)
    known = _NOT_QUERY | _AUTHENTICATED | DEPENDENCIES.keys()
    guards = [g for layer in handler.ownership_layers for g in (getattr(layer, "guards", None) or [])]
    statuses: set[int] = set()
    if path:
        statuses |= {400, 404}
    if "data" in names:
        statuses |= {400, 413, 415, 422}
    if names - path - known:
        statuses |= {400, 422}
    if handler.http_methods & _UNSAFE:
        statuses.add(415)  # chorus.web.middleware.BodyTypeMiddleware
    if names & _AUTHENTICATED or signs_in(handler):
        statuses |= {401, 403}
    if guards:
        statuses.add(403)
    if any(getattr(g, "__module__", "") == "chorus.web.ratelimit" for g in guards):
        statuses.add(429)  # a rate limit's guard
    return statuses


def documented(routers: list[Router]) -> list[Router]:
    """Give each API route of ``routers`` its error answers as ``Problem`` (replacing
    Litestar's generic ``{status_code, detail, extra}``), the bearer scheme where a caller
    must be signed in. Each domain's ``routers()`` ends with it. (Ids no column can hold are a
    404 for every route: :class:`chorus.web.middleware.IdRangeMiddleware`.)"""
    for router in routers:
        for route in router.routes:
            if not isinstance(route, HTTPRoute):
                continue
            for handler in route.route_handlers:
                inferred = problems(*error_statuses(handler, route.path_parameters))
                handler.responses = {**inferred, **(handler.responses or {})}
                handler.operation_class = Operation
                names = set(inspect.signature(handler.fn).parameters)
                if (names & _AUTHENTICATED or signs_in(handler)) and not handler.security:
                    handler.security = [{BEARER: []}]
    return routers


OPENAPI_COMPONENTS = Components(
    security_schemes={
        BEARER: SecurityScheme(
            type="http", scheme="bearer", description="the token from POST /api/v1/auth/login"
        )
    }
)

__all__ = [
    "EXCEPTION_HANDLERS",
    "OPENAPI_COMPONENTS",
    "PROBLEM_JSON",
    "Problem",
    "documented",
    "problem",
    "problems",
    "raw_bytes",
]
