"""Domain errors: raised by services, mapped to problem+json in one place (chorus.web.problems).

Each error carries a catalog key (``errors.<code>`` in locales/*.json) and its parameters,
never a user-facing sentence, so the answer is told in the caller's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One bad field: where (``merchant.identifiers[2].value``), which catalog key, parameters."""

    field: str
    code: str
    params: dict[str, Any] = dc_field(default_factory=dict)


class DomainError(Exception):
    """Base of every error a use case raises on purpose."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        code: str | None = None,
        *,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        **params: Any,
    ) -> None:
        self.code = code or type(self).code
        self.params = params
        self.errors = list(errors or [])
        if field is not None:
            self.errors.insert(0, FieldError(field, self.code, params))
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


class StorageUnavailable(DomainError):
    """The evidence store cannot take bytes now (disk full, read-only, refused): nothing was kept."""

    status = 507
    code = "storage_unavailable"
