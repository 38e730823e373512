"""The report wizard (``/report``): a verified person names the merchant and its identifiers, each
checked as they type against the API's own normalization, with the cases they would join shown
with what matched; then the loss, the date, order references and a statement (Markdown, previewed
through the complaint's sanitizer); then ``cases.service.report`` — the use case behind
``POST /api/v1/reports`` — and the case page, where the evidence comes next.

The form's field names are the API's (``merchant.name``, ``merchant.identifiers[0].kind``,
``loss.amount``, ``incident_date``, ``order_refs``, ``statement``) so that every refusal, from
pydantic or from the use case, lands on the field it names. Without JavaScript the form shows
three identifier rows, an "add another" button and a "preview" button that post the form and get
it back (with one more row, with the preview); htmx turns the identifier check and the preview
into partial updates (``POST /report/identifier``, ``POST /report/preview``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from babel.dates import format_skeleton
from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from pydantic import TypeAdapter, ValidationError

from chorus.accounts.schemas import UserRead
from chorus.cases import public, service
from chorus.cases.pages.case import currency_options
from chorus.cases.schemas import MoneyIn, ReportCreate
from chorus.errors import DomainError
from chorus.i18n import join_list, t
from chorus.merchants import service as merchants
from chorus.merchants.identifiers import STRONG_KINDS, IdentifierKind
from chorus.merchants.schemas import IdentifierIn, ReappearanceWarning
from chorus.web.guards import requires_verified
from chorus.web.pages import (
    FormData,
    babel_locale,
    domain_errors,
    markdown_preview,
    page,
    page_router,
    redirect,
    request_locale,
    validation_errors,
)

TEMPLATE = "report/wizard.html"
START_ROWS = 3  # identifier rows of an empty form
MAX_ROWS = 30  # the API's limit (MerchantIn.identifiers max_length)
MAX_STATEMENT = 20000  # ReportCreate.statement max_length
# Most reported first: what a victim of a card shop or a fake online seller has at hand.
KIND_ORDER = ["shop", "url", "qq", "wechat", "phone", "alipay", "bank_card"]
KIND_ORDER += ["email", "domain", "uscc", "other"]
KINDS = sorted((k.value for k in IdentifierKind), key=lambda k: [*KIND_ORDER, k].index(k))
_ROW_FIELD = re.compile(r"^merchant\.identifiers\[([0-9]{1,2})\]\.(kind|value)$")
_API_ROW = re.compile(r"^merchant\.identifiers\[([0-9]+)\]")
_DATE = TypeAdapter(date)


def kind_field(row: int) -> str:
    return f"merchant.identifiers[{row}].kind"


def value_field(row: int) -> str:
    return f"merchant.identifiers[{row}].value"


# --- the form -----------------------------------------------------------------------------------


@dataclass
class Wizard:
    """What the form holds: the fields as typed (by their API names) and how many identifier
    rows it shows."""

    values: dict[str, str]
    rows: int = START_ROWS

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Wizard:
        values = {k: str(v[-1] if isinstance(v, list) else v) for k, v in data.items() if v is not None}
        shown = [int(m[1]) + 1 for k in values if (m := _ROW_FIELD.match(k))]
        return cls(values=values, rows=min(MAX_ROWS, max([START_ROWS, *shown])))

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def filled_rows(self) -> list[int]:
        """The rows that hold an identifier, in order: the API's identifier ``j`` is row ``used[j]``."""
        return [i for i in range(self.rows) if self.get(value_field(i)).strip()]

    def body(self) -> dict[str, Any]:
        """The API's request body (``ReportCreate``) from the form; a field left empty is left
        out (the schema says "please fill this in", not "too short")."""

        def given(**fields: str) -> dict[str, str]:
            return {k: v for k, v in fields.items() if v}

        body: dict[str, Any] = {
            "merchant": {
                **given(name=self.get("merchant.name").strip()),
                "identifiers": [
                    {"kind": self.get(kind_field(i)), "value": self.get(value_field(i)).strip()}
                    for i in self.filled_rows()
                ],
            },
            "loss": given(amount=self.get("loss.amount").strip(), currency=self.get("loss.currency")),
            **given(incident_date=self.get("incident_date")),
            "order_refs": [line.strip() for line in self.get("order_refs").splitlines() if line.strip()],
            "statement": self.get("statement").replace("\r\n", "\n").strip(),
        }
        return body


FIELDS = frozenset(
    {"merchant.name", "loss.amount", "loss.currency", "incident_date", "order_refs", "statement"}
)


def _on_rows(errors: Mapping[str, str], rows: list[int]) -> dict[str, str]:
    """API error fields as the form's: the API's identifier ``j`` is the form's row ``rows[j]``,
    an order reference is the order references box; what names no field of the form goes above
    it (``""``)."""
    out: dict[str, str] = {}
    for name, message in errors.items():
        found = _API_ROW.match(name)
        if found and int(found[1]) < len(rows):
            name = f"merchant.identifiers[{rows[int(found[1])]}]{name[found.end() :]}"
        elif name.startswith("order_refs["):
            name = "order_refs"
        if name not in FIELDS and not _ROW_FIELD.match(name):
            name = ""
        out.setdefault(name, message)
    return out


def refusals(form: Wizard, locale: str) -> dict[str, str]:
    """Every refusal of the form at once, on the form's fields: the API's schema, then the use
    case's own checks (the same functions; the use case itself stops at its first refusal)."""
    body = form.body()
    used = form.filled_rows()
    found: dict[str, str] = {}  # fields as the API names them (identifier j = row used[j])

    def domain(check: Callable[[], object], into: dict[str, str]) -> None:
        try:
            check()
        except DomainError as exc:
            for name, message in domain_errors(exc, locale).items():
                into.setdefault(name, message)

    try:
        ReportCreate.model_validate(body)
    except ValidationError as exc:
        found.update(validation_errors(exc, locale))
    for j, row in enumerate(used):
        if not form.get(kind_field(row)):  # the select still says "choose"
            found[f"merchant.identifiers[{j}].kind"] = t("page.report.kind_missing", locale)
    try:
        loss = MoneyIn.model_validate(body["loss"])
        domain(lambda: service.parse_loss(loss, "loss"), found)
    except ValidationError:
        pass  # named by the schema's refusal above
    if "incident_date" in body:
        try:
            day = _DATE.validate_python(body["incident_date"])
            domain(lambda: service.check_incident_date(day, "incident_date"), found)
        except ValidationError:
            pass
    domain(lambda: service.clean_order_refs(body["order_refs"], "order_refs"), found)
    errors = _on_rows(found, used)
    # The identifiers as a report normalizes them; only rows with a kind (identifier j = kinded[j]).
    kinded = [row for row in used if form.get(kind_field(row))]
    typed = [
        IdentifierIn.model_construct(kind=form.get(kind_field(r)), value=form.get(value_field(r)).strip())
        for r in kinded
    ]
    normalized: dict[str, str] = {}
    domain(lambda: merchants.normalize_all(typed, "merchant.identifiers"), normalized)
    for name, message in _on_rows(normalized, kinded).items():
        errors.setdefault(name, message)
    return errors


# --- the identifier check -----------------------------------------------------------------------


@dataclass
class Match:
    """A merchant an identifier belongs to, and its open case."""

    merchant: str
    matched_on: list[str]  # kind labels
    case_id: int | None
    members: int
    confirmed: bool  # a confirmed identifier: the report joins this case


@dataclass
class Check:
    """What the check says about one identifier row (rendered by ``report/_check.html``)."""

    row: int
    state: str = "empty"  # empty | invalid | valid
    message: str = ""
    kind: str = ""
    value: str = ""  # as normalized
    weak: bool = False  # "other": shown to organizers, never matched on
    matches: list[Match] = field(default_factory=list)
    reappeared: list[str] = field(default_factory=list)  # "already reported under 星辰卡盟 in March …"


def reappeared_text(w: ReappearanceWarning, locale: str) -> str:
    """One reappearance warning in words: the earlier name, the month (the reader's locale), the count."""
    return t(
        "page.report.reappeared",
        locale,
        kinds=join_list((t(f"identifier.kind.{k}", locale) for k in w.matched_on), locale),
        name=w.name,
        month=format_skeleton("yMMMM", w.first_reported, locale=babel_locale(locale)),
        count=w.member_count,
    )


async def check_row(row: int, kind: str, value: str, locale: str, name: str | None = None) -> Check:
    """One identifier checked as the API checks it (:func:`chorus.cases.service.resolve`, which
    normalizes with the same function a report does), and the merchants it already belongs to."""
    value = value.strip()
    if not value:
        return Check(row)
    if not kind:
        return Check(row, "invalid", t("page.report.kind_missing", locale))
    try:
        read = await public.resolve(name=name or None, identifiers=[IdentifierIn(kind=kind, value=value)])
    except ValidationError as exc:
        return Check(row, "invalid", next(iter(validation_errors(exc, locale).values())))
    except DomainError as exc:
        return Check(row, "invalid", next(iter(domain_errors(exc, locale).values())))
    counts = await service.member_counts([m.case_id for m in read.matches if m.case_id is not None])
    label = t(f"identifier.kind.{read.normalized[0].kind}", locale)
    matches = [
        Match(
            merchant=m.name,
            matched_on=[t(f"identifier.kind.{k}", locale) for k in m.matched_on if k != "name"],
            case_id=m.case_id,
            members=counts.get(m.case_id, 0) if m.case_id is not None else 0,
            confirmed=m.score >= 100,
        )
        for m in read.matches
    ]
    return Check(
        row,
        "valid",
        kind=label,
        value=read.normalized[0].value,
        weak=IdentifierKind(read.normalized[0].kind) not in STRONG_KINDS,
        matches=[m for m in matches if m.matched_on],
        reappeared=[reappeared_text(w, locale) for w in read.warnings],
    )


async def _checks(form: Wizard, locale: str, errors: Mapping[str, str]) -> dict[int, Check]:
    """The check of every filled row (the page without JavaScript shows them too); a row whose
    kind is refused shows that under its kind."""
    out: dict[int, Check] = {}
    for row in form.filled_rows():
        if kind_field(row) in errors:
            continue
        out[row] = await check_row(
            row, form.get(kind_field(row)), form.get(value_field(row)), locale, form.get("merchant.name")
        )
    return out


# --- rendering ----------------------------------------------------------------------------------


def _label(kind: str, locale: str) -> str:
    text = t(f"identifier.kind.{kind}", locale)
    return text[:1].upper() + text[1:]  # an option starts a line ("shop link" in English)


async def _wizard(
    request: Request[Any, Any, Any],
    form: Wizard,
    *,
    user: UserRead,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    preview: bool = False,
    focus: str | None = None,
) -> Template:
    locale = request_locale(request, user)
    errors = dict(errors or {})
    values = dict(form.values)
    values.setdefault("loss.currency", "CNY")
    statement = form.get("statement")
    return await page(
        request,
        TEMPLATE,
        status=status,
        values=values,
        errors=errors,
        rows=form.rows,
        max_rows=MAX_ROWS,
        kinds=[("", t("page.report.kind_choose", locale))] + [(k, _label(k, locale)) for k in KINDS],
        currencies=currency_options("", locale),
        checks=await _checks(form, locale, errors),
        # the statement as the complaint and the case page will show it
        preview=markdown_preview(statement, limit=MAX_STATEMENT) if preview else None,
        previewed=preview,
        focus=focus,
        today=date.today().isoformat(),
    )


# --- routes -------------------------------------------------------------------------------------


@get("/report", guards=[requires_verified], name="report")
async def wizard(
    request: Request[Any, Any, Any],
    user: NamedDependency[UserRead],
    name: FromQuery[str] = "",
    kind: FromQuery[str] = "",
    value: FromQuery[str] = "",
) -> Template:
    """The empty wizard, or prefilled from the merchant check's join button (``?name=&kind=&value=``)."""
    values = {"merchant.name": name[:200], kind_field(0): kind[:20], value_field(0): value[:2000]}
    return await _wizard(request, Wizard({k: v for k, v in values.items() if v}), user=user)


@post("/report", guards=[requires_verified])
async def submit(
    request: Request[Any, Any, Any], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Report (``cases.service.report``, as ``POST /api/v1/reports``) and go to the case page;
    or, from the no-JavaScript buttons, the form again with one more identifier row
    (``_action=add``) or with the statement's preview (``_action=preview``)."""
    form = Wizard.read(data)
    action = form.get("_action")
    if action == "add":
        form.rows = min(MAX_ROWS, form.rows + 1)
        return await _wizard(request, form, user=user, focus=kind_field(form.rows - 1))
    if action == "preview":
        return await _wizard(request, form, user=user, preview=True)
    locale = request_locale(request, user)
    errors = refusals(form, locale)
    if errors:
        return await _wizard(request, form, user=user, errors=errors, status=422)
    try:
        done = await service.report(actor=user, data=ReportCreate.model_validate(form.body()))
    except DomainError as exc:  # e.g. 409 already_member; nothing was written
        errors = _on_rows(domain_errors(exc, locale), form.filled_rows())
        return await _wizard(request, form, user=user, errors=errors, status=exc.status)
    # The person's number among the case's members, counted by the use case as it joined them.
    key = "page.report.flash.opened" if done.created_case else "page.report.flash.joined"
    return redirect(request, f"/cases/{done.case_id}", flash=key, flash_params={"n": done.member_number})


@post("/report/identifier", guards=[requires_verified])
async def identifier_check(
    request: Request[Any, Any, Any], data: FormData, user: NamedDependency[UserRead]
) -> Template:
    """htmx: the check of the identifier row posted (its kind and value), as a fragment for the
    row's live region. Always 200: a refusal is an answer here, shown on the field."""
    form = Wizard.read(data)
    rows = sorted({int(m[1]) for k in form.values if (m := _ROW_FIELD.match(k))}) or [0]
    row, locale = rows[0], request_locale(request, user)
    check = await check_row(
        row, form.get(kind_field(row)), form.get(value_field(row)), locale, form.get("merchant.name")
    )
    return await page(request, "report/_check.html", check=check)


@post("/report/preview", guards=[requires_verified])
async def statement_preview(
    request: Request[Any, Any, Any], data: FormData, user: NamedDependency[UserRead]
) -> Template:
    """htmx: the statement rendered as the case will show it (sanitized Markdown)."""
    statement = Wizard.read(data).get("statement")
    preview = markdown_preview(statement, limit=MAX_STATEMENT)
    return await page(request, "report/_preview.html", preview=preview, previewed=True)


def page_routers() -> list[Router]:
    return [page_router(wizard, submit, identifier_check, statement_preview)]
