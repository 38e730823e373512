"""The admins' regulator registry: ``/admin/regulators`` (where complaints can be sent: channel,
address, credentials variable, calendar and time limits with their rule citations), a regulator
added (``/admin/regulators/new``) or edited (``/admin/regulators/{id}``).

Admins only (``requires_role("admin")``, as the API's createRegulator / updateRegulator). The
list is the service of listRegulators, the forms are validated by the API's own schemas
(RegulatorCreate, RegulatorUpdate) and the same use cases (``create``, ``update``: the address
against its channel, an HTTP channel's address in production), each refusal on its field. The
API key itself is never shown nor typed here: only the name of the server's environment variable
holding it (``CHORUS_REGULATOR_KEY_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.errors import DomainError
from chorus.regulators import service
from chorus.regulators.schemas import (
    CREDENTIALS_PREFIX,
    MIN_POLL_SECONDS_DEFAULT,
    RegulatorCreate,
    RegulatorUpdate,
)
from chorus.settings import Settings
from chorus.web.guards import requires_role
from chorus.web.pages import FormData, form_error, page, page_router, parse_form, redirect

ADMIN = [requires_role("admin")]
FORM = "admin/regulator_form.html"
# Fields an admin may empty: an empty box clears them (the others are refused when empty).
CLEARABLE = ("credentials_env", "accept_working_days", "finish_working_days")


def _choices() -> dict[str, Any]:
    """What the form's selects offer (the schema's literals, in the order shown)."""
    return {
        "channels": ("email", "http", "manual"),
        "locales_offered": ("zh-CN", "en"),
        "template_kinds": ("samr", "consumer_association", "payment_platform", "police", "ftc"),
        "disclosures": ("masked", "full"),
        "calendars": ("CN", "US"),
        "credentials_prefix": CREDENTIALS_PREFIX,
    }


def update_of(data: Mapping[str, Any]) -> RegulatorUpdate:
    """The edit form as the API's change: every field the form sent; an empty box clears what may
    be empty and is refused for the rest (``note`` may be empty text)."""
    fields: dict[str, Any] = {}
    for name in RegulatorUpdate.model_fields:
        if name not in data:
            continue
        value = data[name]
        if value == "" and name in CLEARABLE:
            value = None
        fields[name] = value
    return RegulatorUpdate.model_validate(fields)


async def _refused(
    request: Request[Any, Any, Any],
    exc: ValidationError | DomainError,
    data: Mapping[str, Any],
    **context: Any,
) -> Template:
    """The form again with each refusal on its field; a credentials variable outside the allowed
    prefix says which names are allowed (the schema's pattern reads as "invalid value")."""
    answer = await form_error(request, FORM, exc, values=data, **context, **_choices())
    errors = answer.context["errors"]
    if isinstance(exc, ValidationError) and "credentials_env" in errors:
        errors["credentials_env"] = answer.context["t"](
            "page.admin.error.credentials_env", prefix=CREDENTIALS_PREFIX
        )
    return answer


@get("/admin/regulators", guards=ADMIN, name="admin_regulators")
async def registry(request: Request[Any, Any, Any]) -> Template:
    """Every regulator complaints can be sent to, as listRegulators lists them."""
    return await page(request, "admin/regulators.html", regulators=await service.list_active())


@get("/admin/regulators/new", guards=ADMIN)
async def new_form(request: Request[Any, Any, Any]) -> Template:
    values: dict[str, Any] = {"channel": "email", "locale": "zh-CN", "template_kind": "samr"}
    values |= {"contact_disclosure": "masked", "calendar": "CN", "min_poll_seconds": MIN_POLL_SECONDS_DEFAULT}
    return await page(request, FORM, regulator=None, values=values, **_choices())


@post("/admin/regulators", guards=ADMIN)
async def create(
    request: Request[Any, Any, Any],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    try:
        created = await service.create(data=parse_form(RegulatorCreate, data), actor=user, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, exc, data, regulator=None)
    return redirect(request, f"/admin/regulators#regulator-{created.id}", flash="page.admin.flash.added")


@get("/admin/regulators/{regulator_id:int}", guards=ADMIN)
async def edit_form(request: Request[Any, Any, Any], regulator_id: FromPath[int]) -> Template:
    regulator = await service.get_for_admin(regulator_id)
    values = {k: "" if v is None else v for k, v in regulator.model_dump().items()}
    return await page(request, FORM, regulator=regulator, values=values, **_choices())


@post("/admin/regulators/{regulator_id:int}", guards=ADMIN)
async def update(
    request: Request[Any, Any, Any],
    regulator_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    regulator = await service.get_for_admin(regulator_id)  # an unknown id: the 404 page
    try:
        await service.update(regulator_id, data=update_of(data), actor=user, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, exc, data, regulator=regulator)
    return redirect(request, f"/admin/regulators#regulator-{regulator_id}", flash="page.admin.flash.saved")


def page_routers() -> list[Router]:
    return [page_router(registry, new_form, create, edit_form, update)]
