"""Domain errors: raised by services, mapped to problem+json in one place (chorus.web.problems).

Each error carries a catalog key (``errors.<code>`` in locales/*.json) and its parameters,
never a user-facing sentence, so the answer is told in the caller's language.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a use case raises on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, code: str | None = None, *, field: str | None = None, **params: Any) -> None:
        self.code = code or type(self).code
        self.field = field
        self.params = params
        super().__init__(self.code)


class Invalid(DomainError):
    """The request is well-formed but a value cannot be accepted (422)."""

    status = 422
    code = "invalid"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class UnsupportedType(DomainError):
    status = 415
    code = "unsupported_media_type"
