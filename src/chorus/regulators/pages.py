"""The admins' regulator registry: ``/admin/regulators`` (where complaints can be sent: channel,
address, credentials variable, calendar and time limits with their rule citations), a regulator
added (``/admin/regulators/new``) or edited (``/admin/regulators/{id}``).

Admins only (``requires_role("admin")``, as the API's createRegulator / updateRegulator). The
list is the service of listRegulators, the forms are validated by the API's own schemas
(RegulatorCreate, RegulatorUpdate) and the same use cases (``create``, ``update``: the address
against its channel, an HTTP channel's address in production), each refusal on its field. The
API key itself is never shown nor typed here: only the name of the server's environment variable
holding it (``CHORUS_REGULATOR_KEY_*``).

A regulator is routed through another's channel (``routed_by``: the bureaus 12315 routes to) and
may expect each complainant's written authorization (``authorization_required``), both chosen
from selects. Deactivating (``/admin/regulators/{id}/active``, a form of one button) takes it off
the list organizers choose from; filings already made keep it. Deactivated regulators stay on the
registry page, marked, to be edited or reactivated.

Time limits as dated, cited rules (``time_limits``: a list in the API) are rows of the form named
``time_limits[i].<field>``; a blank row adds nothing, a ticked ``remove`` drops its rule, and a
refusal inside a rule is shown on its row's field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, get_args

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.errors import DomainError, Invalid
from chorus.regulators import service
from chorus.regulators.schemas import (
    CREDENTIALS_PREFIX,
    MIN_POLL_SECONDS_DEFAULT,
    SHIPPED_FIELDS,
    RegulatorCreate,
    RegulatorUpdate,
    TemplateKind,
)
from chorus.settings import Settings
from chorus.web.guards import requires_role
from chorus.web.pages import FormData, form_error, page, page_router, parse_form, redirect

ADMIN = [requires_role("admin")]
FORM = "admin/regulator_form.html"
# Fields an admin may empty: an empty box clears them (the others are refused when empty).
CLEARABLE = ("credentials_env", "accept_working_days", "finish_working_days", "routed_by")


# A rule's fields in the form, in the order shown (schemas.TimeLimitRule).
RULE_FIELDS = (
    "phase",
    "limit",
    "unit",
    "rule",
    "article",
    "valid_from",
    "valid_to",
    "source_url",
    "text_excerpt",
    "confirmed",
    "note",
)
RULE_NULLABLE = ("article", "source_url", "valid_from", "valid_to")  # empty: not known
RULE_ROWS_MAX = 40  # rows a form may post (the schema takes fewer rules; the rest is refused there)
_RULE_KEY = re.compile(r"^time_limits\[(\d{1,3})\]\.([a-z_]+)$")


def rules_editable() -> bool:
    """Whether the registry holds time limits as rules (``time_limits``) to edit."""
    return "time_limits" in RegulatorUpdate.model_fields


def _rule_rows(data: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """The form's rule rows by index: ``time_limits[2].limit`` → ``{2: {"limit": ...}}``."""
    rows: dict[int, dict[str, Any]] = {}
    for key, value in data.items():
        found = _RULE_KEY.match(key)
        if found and int(found[1]) < RULE_ROWS_MAX and found[2] in (*RULE_FIELDS, "remove"):
            rows.setdefault(int(found[1]), {})[found[2]] = value
    return dict(sorted(rows.items()))


def _blank(row: Mapping[str, Any]) -> bool:
    return not any(
        str(v).strip() for k, v in row.items() if k not in ("confirmed", "remove", "phase", "unit")
    )


def rules_of(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[int]]:
    """The rules the form holds, as the API takes them, and the form row each came from (a blank
    row or one marked ``remove`` holds none). An empty required field is left out, so the schema
    says "fill this in"; an empty optional one is null."""
    rules, rows = [], []
    for index, row in _rule_rows(data).items():
        if row.get("remove") or _blank(row):
            continue
        rule: dict[str, Any] = {}
        for name in RULE_FIELDS:
            value = row.get(name, "")
            if name == "confirmed":
                rule[name] = bool(value)
            elif value != "":
                rule[name] = value
            elif name in RULE_NULLABLE:
                rule[name] = None
        rules.append(rule)
        rows.append(index)
    return rules, rows


def rule_values(rules: list[Any]) -> dict[str, Any]:
    """A regulator's rules as the form's flat values (``time_limits[0].limit`` …)."""
    values: dict[str, Any] = {}
    for index, rule in enumerate(rules):
        for name, value in rule.items():
            if name == "confirmed":
                value = "true" if value else ""
            values[f"time_limits[{index}].{name}"] = "" if value is None else str(value)
    return values


def rows_shown(values: Mapping[str, Any]) -> int:
    """How many rule rows the form shows: those it holds, then one blank row to add a rule."""
    rows = _rule_rows(values)
    if not rows:
        return 1
    last = max(rows)
    return last + 1 if _blank(rows[last]) and not rows[last].get("remove") else last + 2


def _without_rules(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not _RULE_KEY.match(k)}


def create_of(data: Mapping[str, Any]) -> tuple[RegulatorCreate, list[int]]:
    """The add form as the API's RegulatorCreate, and the form row of each rule."""
    fields = _without_rules(data)
    rows: list[int] = []
    if rules_editable():
        fields["time_limits"], rows = rules_of(data)
    return parse_form(RegulatorCreate, fields), rows


def _choices() -> dict[str, Any]:
    """What the form's selects offer (the schema's literals, in the order shown)."""
    return {
        "channels": ("email", "http", "manual"),
        "locales_offered": ("zh-CN", "en"),
        "template_kinds": get_args(TemplateKind),
        "disclosures": ("masked", "full"),
        "calendars": ("CN", "US"),
        "credentials_prefix": CREDENTIALS_PREFIX,
        "rules_editable": rules_editable(),
        "phases": ("acceptance", "conclusion"),
        "units": ("working_days", "calendar_days"),
        "routing_editable": "routed_by" in RegulatorUpdate.model_fields,
        "shipped_fields": SHIPPED_FIELDS,
    }


async def _routing(regulator_id: int | None) -> dict[str, Any]:
    """The channels a regulator may be routed through (regulators not routed themselves, not this
    one), for the ``routed_by`` select: (id, "name · jurisdiction")."""
    channels = [
        (str(r.id), f"{r.name} · {r.jurisdiction}")
        for r in await service.list_all()
        if r.routed_by is None and r.id != regulator_id
    ]
    return {"routing_channels": channels}


def _form_values(regulator: Any) -> dict[str, Any]:
    """A regulator as the edit form's values (booleans as the selects' ``true``/``false``)."""
    dumped = regulator.model_dump(mode="json")
    dumped.pop("time_limits", None)
    return {
        k: "" if v is None else ("true" if v is True else "false" if v is False else v)
        for k, v in dumped.items()
    }


def update_of(data: Mapping[str, Any]) -> tuple[RegulatorUpdate, list[int]]:
    """The edit form as the API's change (every field the form sent; an empty box clears what may
    be empty and is refused for the rest; ``note`` may be empty text; the rules as a whole list),
    and the form row of each rule."""
    fields: dict[str, Any] = {}
    for name in RegulatorUpdate.model_fields:
        if name not in data:
            continue
        value = data[name]
        if value == "" and name in CLEARABLE:
            value = None
        fields[name] = value
    rows: list[int] = []
    if rules_editable() and _rule_rows(data):
        fields["time_limits"], rows = rules_of(data)
    return RegulatorUpdate.model_validate(fields), rows


_RULE_ERROR = re.compile(r"^time_limits\[(\d+)\]")


async def _refused(
    request: Request[Any, Any, Any],
    exc: ValidationError | DomainError,
    data: Mapping[str, Any],
    rows: list[int],
    **context: Any,
) -> Template:
    """The form again with each refusal on its field: a rule's on its own row (the schema counts
    only the rules sent); a credentials variable outside the allowed prefix says which names are
    allowed (the schema's pattern reads as "invalid value")."""
    regulator = context.get("regulator")
    answer = await form_error(
        request,
        FORM,
        exc,
        values=data,
        rule_rows=rows_shown(data),
        **context,
        **_choices(),
        **await _routing(regulator.id if regulator else None),
    )
    errors: dict[str, str] = answer.context["errors"]
    moved = {}
    for key, message in errors.items():
        found = _RULE_ERROR.match(key)
        if found and int(found[1]) < len(rows):
            key = f"time_limits[{rows[int(found[1])]}]" + key[found.end() :]
        moved[key] = message
    if isinstance(exc, ValidationError) and "credentials_env" in moved:
        moved["credentials_env"] = answer.context["t"](
            "page.admin.error.credentials_env", prefix=CREDENTIALS_PREFIX
        )
    answer.context["errors"] = moved
    return answer


@get("/admin/regulators", guards=ADMIN, name="admin_regulators")
async def registry(request: Request[Any, Any, Any]) -> Template:
    """Every regulator complaints can be sent to, as listRegulators lists them."""
    return await page(request, "admin/regulators.html", regulators=await service.list_all())


@get("/admin/regulators/new", guards=ADMIN)
async def new_form(request: Request[Any, Any, Any]) -> Template:
    values: dict[str, Any] = {"channel": "email", "locale": "zh-CN", "template_kind": "samr"}
    values |= {"contact_disclosure": "masked", "calendar": "CN", "min_poll_seconds": MIN_POLL_SECONDS_DEFAULT}
    values |= {"authorization_required": "false"}
    return await page(
        request, FORM, regulator=None, values=values, rule_rows=1, **_choices(), **await _routing(None)
    )


@post("/admin/regulators", guards=ADMIN)
async def create(
    request: Request[Any, Any, Any],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    rows: list[int] = []
    try:
        change, rows = create_of(data)
        created = await service.create(data=change, actor=user, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, exc, data, rows or rules_of(data)[1], regulator=None)
    return redirect(request, f"/admin/regulators#regulator-{created.id}", flash="page.admin.flash.added")


@get("/admin/regulators/{regulator_id:int}", guards=ADMIN)
async def edit_form(request: Request[Any, Any, Any], regulator_id: FromPath[int]) -> Template:
    regulator = await service.get_for_admin(regulator_id)
    rules = regulator.model_dump(mode="json")["time_limits"]
    values = _form_values(regulator) | rule_values(rules)
    return await page(
        request,
        FORM,
        regulator=regulator,
        values=values,
        rule_rows=len(rules) + 1,
        **_choices(),
        **await _routing(regulator_id),
    )


@post("/admin/regulators/{regulator_id:int}", guards=ADMIN)
async def update(
    request: Request[Any, Any, Any],
    regulator_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    regulator = await service.get_for_admin(regulator_id)  # an unknown id: the 404 page
    rows: list[int] = []
    try:
        change, rows = update_of(data)
        await service.update(regulator_id, data=change, actor=user, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, exc, data, rows or rules_of(data)[1], regulator=regulator)
    return redirect(request, f"/admin/regulators#regulator-{regulator_id}", flash="page.admin.flash.saved")


@post("/admin/regulators/{regulator_id:int}/active", guards=ADMIN)
async def set_active(
    request: Request[Any, Any, Any],
    regulator_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """Deactivate (``active=false``) or reactivate (``active=true``) a regulator: the API's
    ``PATCH {active}``."""
    regulator = await service.get_for_admin(regulator_id)  # an unknown id: the 404 page
    try:
        change = RegulatorUpdate.model_validate({"active": data.get("active")})
        await service.update(regulator_id, data=change, actor=user, settings=settings)
    except (ValidationError, DomainError) as exc:
        values = _form_values(regulator) | rule_values(regulator.model_dump(mode="json")["time_limits"])
        return await _refused(request, exc, values, [], regulator=regulator)
    flash = "page.admin.flash.reactivated" if change.active else "page.admin.flash.deactivated"
    return redirect(request, f"/admin/regulators#regulator-{regulator_id}", flash=flash)


@post("/admin/regulators/{regulator_id:int}/restore", guards=ADMIN)
async def restore(
    request: Request[Any, Any, Any],
    regulator_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """Hand the ticked fields (``restore_shipped.<field>``) of a shipped regulator back to the
    shipped data: the API's ``PATCH {restore_shipped}``."""
    regulator = await service.get_for_admin(regulator_id)  # an unknown id: the 404 page
    fields = [f for f in SHIPPED_FIELDS if data.get(f"restore_shipped.{f}")]
    try:
        if not fields:
            raise Invalid("regulator_restore_none", field="restore_shipped")
        change = RegulatorUpdate.model_validate({"restore_shipped": fields})
        await service.update(regulator_id, data=change, actor=user, settings=settings)
    except (ValidationError, DomainError) as exc:
        values = _form_values(regulator) | rule_values(regulator.model_dump(mode="json")["time_limits"])
        return await _refused(request, exc, values, [], regulator=regulator)
    return redirect(request, f"/admin/regulators/{regulator_id}", flash="page.admin.flash.restored")


def page_routers() -> list[Router]:
    return [page_router(registry, new_form, create, edit_form, update, set_active, restore)]
