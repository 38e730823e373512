"""Server-rendered pages: the template engine, the one call every page controller makes
(:func:`page`), the locale of a request, form answers (303 on success, the form again with its
errors otherwise), the flash notice after a redirect, and the language switch (``POST /locale``).

A domain's page controllers live in ``<domain>/pages.py`` and expose ``page_routers()``, built
with :func:`page_router`; see /work/notes/ui-foundation.md for the contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import cache, partial
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request, Router, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup
from pydantic import BaseModel, ValidationError

from chorus.accounts.schemas import UserRead
from chorus.errors import DomainError, NotFound
from chorus.i18n import DEFAULT_LOCALE, LOCALES, catalog, join_list, negotiate, normalize_locale, t
from chorus.inputs import NUL_MESSAGE, Input
from chorus.markdown import render
from chorus.notifications import service as notifications
from chorus.notifications.schemas import PreferencesUpdate
from chorus.settings import Settings
from chorus.web.auth import current_user
from chorus.web.middleware import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER

PAGES_DIR = Path(__file__).resolve().parent.parent / "templates" / "pages"
LOCALE_COOKIE = "chorus_locale"
FLASH_COOKIE = "chorus_flash"

DEFAULT_TIME_ZONE = "Asia/Shanghai"
_BABEL = {"zh-CN": "zh_Hans_CN", "en": "en"}
# what goes between two sentences (or a sentence and its link) put side by side: nothing in
# Chinese, whose full stops and colons carry their own space; a space in English
_GAP = {"zh-CN": "", "en": " "}
_FLASH_KEY = re.compile(r"^page\.[a-z0-9_.-]+$")
# The flash cookie: a page. key, then up to four integer parameters (``~n:24``), then the part
# of the page the form's redirect went to (``@ladder``): whoever edits their own cookie can only
# change a number in a text of ours, or where on the page it shows.
_FLASH_VALUE = re.compile(
    r"^(page\.[a-z0-9_.-]+)((?:~[a-z_]{1,20}:[0-9]{1,9}){0,4})(?:@([a-z][a-z0-9-]{0,63}))?$"
)
T = TypeVar("T")
M = TypeVar("M", bound=Input)  # a form is read into an input model: no NUL in its texts


# --- the engine -------------------------------------------------------------------------------


@cache
def environment() -> Environment:
    """The pages' Jinja environment: autoescaped, strict about undefined names (a typo in a
    template fails its test instead of rendering an empty string)."""
    return Environment(
        loader=FileSystemLoader(str(PAGES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def template_config() -> TemplateConfig[Any]:
    from litestar.plugins.jinja import JinjaTemplateEngine

    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


# --- the locale of a request ------------------------------------------------------------------


def cookie_or_header_locale(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The ``chorus_locale`` cookie if it names a supported locale, else Accept-Language."""
    chosen = connection.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    return negotiate(connection.headers.get("accept-language"))


def request_locale(connection: ASGIConnection[Any, Any, Any, Any], user: UserRead | None) -> str:
    """The account's stored language, else the cookie, else Accept-Language."""
    if user is not None and user.locale in LOCALES:
        return user.locale
    return cookie_or_header_locale(connection)


def cached_user(connection: ASGIConnection[Any, Any, Any, Any]) -> UserRead | None:
    """The caller if this request already resolved them (no I/O: for error pages)."""
    user = connection.scope.get("chorus_user")  # type: ignore[call-overload]
    return user if isinstance(user, UserRead) else None


# --- formatting -------------------------------------------------------------------------------


def babel_locale(locale: str) -> Locale:
    """Babel's locale for one of ours (zh-CN → zh_Hans_CN), the default for any other."""
    return Locale.parse(_BABEL.get(locale, "zh_Hans_CN"))


@dataclass(frozen=True)
class Paging:
    """A long list shown ``per_page`` items at a time (partials/pager.html draws the links)."""

    page: int  # from 1
    pages: int
    per_page: int

    @classmethod
    def of(cls, count: int, per_page: int, page: int) -> Paging:
        """Page ``page`` of ``count`` items; 404 for a page that is not there (one page when
        there is nothing)."""
        pages = max(1, -(-count // per_page))
        if not 1 <= page <= pages:
            raise NotFound()
        return cls(page, pages, per_page)

    def slice(self, items: Sequence[T]) -> list[T]:
        """The items of this page."""
        start = (self.page - 1) * self.per_page
        return list(items[start : start + self.per_page])


class Formats:
    """Numbers, money and dates in one locale (and the reader's time zone)."""

    def __init__(self, locale: str, time_zone: str = DEFAULT_TIME_ZONE) -> None:
        self.locale = babel_locale(locale)
        try:
            self.tz: tzinfo = ZoneInfo(time_zone)
        except (ValueError, KeyError):
            self.tz = ZoneInfo(DEFAULT_TIME_ZONE)

    def money(self, amount: Decimal | int | float | str, currency: str) -> str:
        """``money(Decimal("1288.00"), "CNY")`` → ``¥1,288.00`` (zh-CN) / ``CN¥1,288.00`` (en)."""
        return str(format_currency(Decimal(str(amount)), currency, locale=self.locale))

    def number(self, value: int | float | Decimal) -> str:
        return str(format_decimal(value, locale=self.locale))

    def date(self, value: date | datetime | None, fmt: str = "long") -> str:
        """A calendar day (``2026年3月5日`` / ``March 5, 2026``); a date-time is shown on the
        reader's calendar."""
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date() if value.tzinfo else value.date()
        return str(format_date(value, format=fmt, locale=self.locale))

    def datetime(self, value: datetime | None, fmt: str = "medium") -> str:
        """A moment in the reader's time zone (aware values; naive ones are taken as UTC)."""
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo("UTC"))
        return str(format_datetime(value, format=fmt, tzinfo=self.tz, locale=self.locale))


def translator(locale: str) -> Callable[..., str]:
    """``t("page.x.y", **params)`` bound to ``locale``."""

    def bound(key: str, **params: Any) -> str:
        return t(key, locale, **params)

    return bound


# --- the page ---------------------------------------------------------------------------------


def csrf_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The value for the hidden ``_csrf_token`` field (and the ``x-csrftoken`` header): the
    token the CSRF check handed out for this request, else the browser's ``csrftoken`` cookie."""
    state = ScopeState.from_scope(connection.scope).csrf_token
    if isinstance(state, str) and state:
        return state
    return connection.cookies.get(CSRF_COOKIE, "")


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site (``/x?y``), else ``default``: never an open redirect
    (``//evil.example``, ``https://…``, ``/\\evil``, control characters are refused)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def _path_with_query(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    query = connection.scope.get("query_string", b"").decode("latin-1")
    return connection.url.path + (f"?{query}" if query else "")


# Pages one never wants to land on again after logging in.
ACCOUNT_PAGES = ("/login", "/logout", "/register", "/verify")


def is_account_page(target: str) -> bool:
    """Whether ``target`` (a path, maybe with a query) is one of the account pages themselves."""
    path = urlsplit(target).path.rstrip("/") or "/"
    return path in ACCOUNT_PAGES or path.startswith("/password/")


def _login_next(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Where the header's login link comes back to: this page; on an account page, the page it
    goes on to itself (so the link never nests ``/login?next=/login?next=…``)."""
    here = _path_with_query(connection)
    if not is_account_page(here):
        return here
    target = safe_next(connection.query_params.get("next"))
    return "/" if is_account_page(target) else target


def base_context(
    connection: ASGIConnection[Any, Any, Any, Any],
    *,
    user: UserRead | None,
    unread: int = 0,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> dict[str, Any]:
    """What every page template may use (no I/O: error pages build it too)."""
    settings: Settings = connection.app.state["settings"]
    locale = request_locale(connection, user)
    formats = Formats(locale, time_zone)
    flash, flash_at = _flash(connection.cookies.get(FLASH_COOKIE, ""), locale)
    return {
        "user": user,
        "locale": locale,
        "locales": LOCALES,
        "t": translator(locale),
        "csrf_token": csrf_token(connection),
        "csrf_field": CSRF_FIELD,
        "csrf_header": CSRF_HEADER,
        "csrf_cookie": CSRF_COOKIE,
        "unread": unread,
        "path": _path_with_query(connection),
        "login_next": _login_next(connection),
        "public_url": settings.public_url.rstrip("/"),
        "money": formats.money,
        "number": formats.number,
        "date": formats.date,
        "datetime": formats.datetime,
        "flash": flash,
        "flash_at": flash_at,
        "gap": _GAP.get(locale, " "),
        "listed": partial(join_list, locale=locale),
        "errors": {},
        "values": {},
    }


def _flash(value: str, locale: str) -> tuple[str | None, str | None]:
    """The notice a ``chorus_flash`` cookie names (see :func:`redirect`), and the part of the
    page it belongs in (the redirect's ``#fragment``: None for the top of the page)."""
    found = _FLASH_VALUE.match(value)
    if found is None or found[1] not in catalog(locale):
        return None, None
    params = dict(part.split(":") for part in found[2].split("~")[1:])
    return t(found[1], locale, **{k: int(v) for k, v in params.items()}), found[3]


async def page(
    request: Request[Any, Any, Any],
    template_name: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    cookies: Sequence[Cookie] = (),
    **context: Any,
) -> Template:
    """Render ``templates/pages/<template_name>`` with the common context (see
    :func:`base_context`) plus ``context``. The one way a page controller answers."""
    user = await current_user(request)
    unread, time_zone = 0, DEFAULT_TIME_ZONE
    if user is not None:
        unread = (await notifications.list_for(actor=user, limit=0)).unread
        prefs = (await notifications.preferences_of([user.id])).get(user.id)
        time_zone = prefs.time_zone if prefs is not None else DEFAULT_TIME_ZONE
    full = {**base_context(request, user=user, unread=unread, time_zone=time_zone), **context}
    out = list(cookies)
    if request.cookies.get(FLASH_COOKIE):  # shown once: this page showed it
        out.append(Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/", httponly=True, samesite="lax"))
    return Template(
        template_name=template_name,
        context=full,
        status_code=status,
        headers={"vary": "Cookie, Accept-Language", **(headers or {})},
        cookies=out,
        media_type="text/html",
    )


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """Whether htmx sent the request (answer with a fragment rather than a whole page)."""
    return request.headers.get("hx-request") == "true"


# --- answering a form -------------------------------------------------------------------------


def redirect(
    request: Request[Any, Any, Any],
    to: str,
    *,
    flash: str | None = None,
    flash_params: Mapping[str, int] | None = None,
) -> Redirect:
    """The answer to a form that worked: 303 See Other to ``to`` (a path on this site), with
    an optional notice shown once on the next page (``flash`` is a ``page.`` catalog key;
    ``flash_params`` fills its integer placeholders: ``flash_params={"n": 24}``). When ``to``
    goes to a part of the page (``/cases/1#ladder``), the notice shows in that part, where the
    browser lands, rather than at the top out of sight: that part's template calls
    ``flash_here("ladder")`` (``partials/flash.html``)."""
    settings: Settings = request.app.state["settings"]
    cookies = []
    if flash is not None:
        value = flash + "".join(f"~{k}:{int(v)}" for k, v in (flash_params or {}).items())
        if "#" in to:
            value += "@" + to.partition("#")[2]
        if not _FLASH_KEY.match(flash) or not _FLASH_VALUE.match(value):
            raise ValueError(f"a flash is a page. catalog key with integer parameters, not {value!r}")
        cookies.append(
            Cookie(
                key=FLASH_COOKIE,
                value=value,
                max_age=60,
                path="/",
                httponly=True,
                samesite="lax",
                secure=settings.cookies_secure,
            )
        )
    return Redirect(path=safe_next(to), status_code=303, cookies=cookies)


def login_redirect(connection: ASGIConnection[Any, Any, Any, Any]) -> Redirect:
    """303 to ``/login?next=<this page>`` (a form post comes back to its page's path)."""
    if connection.scope.get("method") in ("GET", "HEAD"):
        target = _path_with_query(connection)
    else:
        target = safe_next(_referer_path(connection), "/")
    return Redirect(path=f"/login?next={quote(target, safe='/')}", status_code=303)


def _referer_path(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    referer = urlsplit(connection.headers.get("referer", ""))
    settings: Settings = connection.app.state["settings"]
    if f"{referer.scheme}://{referer.netloc}" != settings.public_origin:
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "")


FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
"""A page form's fields (``data: FormData``); ``_csrf_token`` is among them, ignored by schemas
built with :func:`parse_form`."""


_PYDANTIC_CODES = {
    "missing": "page.form.required",
    "string_too_short": "page.form.too_short",
    "string_too_long": "page.form.too_long",
    "too_short": "page.form.too_short",
    "too_long": "page.form.too_long",
    "greater_than": "page.form.too_small",
    "greater_than_equal": "page.form.too_small",
    "less_than": "page.form.too_large",
    "less_than_equal": "page.form.too_large",
    "literal_error": "page.form.choose",
    "enum": "page.form.choose",
    "value_error": "page.form.invalid",
}


def _field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_errors(exc: ValidationError, locale: str) -> dict[str, str]:
    """A pydantic refusal as ``{field: message in the reader's language}`` (field names as the
    API names them: ``identifiers[0].value``)."""
    errors: dict[str, str] = {}
    for item in exc.errors():
        field = _field_path(item["loc"])
        ctx = item.get("ctx") or {}
        key = _PYDANTIC_CODES.get(item["type"], "page.form.invalid")
        if item["type"].startswith(("int_", "decimal_", "float_", "date_", "datetime_")):
            key = "page.form.not_a_value"
        if item["type"] == "value_error" and "email" in str(item.get("msg", "")).lower():
            key = "page.form.email"
        if item["type"] == "value_error" and NUL_MESSAGE in str(item.get("msg", "")):
            key = "errors.text_nul"
        if item.get("input") == "" or (item["type"] == "string_too_short" and ctx.get("min_length") == 1):
            key = "page.form.required"  # an empty box: "fill this in", whatever rule it broke
        params = {
            "min": ctx.get("min_length", ctx.get("gt", ctx.get("ge", ""))),
            "max": ctx.get("max_length", ctx.get("lt", ctx.get("le", ""))),
        }
        errors.setdefault(field, t(key, locale, **params))
    return errors


def domain_errors(exc: DomainError, locale: str) -> dict[str, str]:
    """A use case's refusal as ``{field: message}``; what concerns no field is under ``""``
    (shown above the form)."""
    from chorus.web.problems import localized_params

    errors: dict[str, str] = {}
    for e in exc.errors:
        errors.setdefault(e.field, t(f"errors.{e.code}", locale, **localized_params(e.params, locale)))
    if not exc.errors:
        errors[""] = t(f"errors.{exc.code}", locale, **localized_params(exc.params, locale))
    return errors


def parse_form(model: type[M], data: Mapping[str, Any]) -> M:
    """The form's fields as the API's schema (raises pydantic's ValidationError); the CSRF
    field and empty optional fields are left out."""
    required = _required(model)
    fields = {k: v for k, v in data.items() if k != CSRF_FIELD and not (v == "" and k not in required)}
    return model.model_validate(fields)


def _required(model: type[BaseModel]) -> set[str]:
    return {name for name, f in model.model_fields.items() if f.is_required()}


def refusal(exc: ValidationError | DomainError, locale: str) -> tuple[dict[str, str], int]:
    """A refused form's errors (``{field: message}``) and its status: 422 for invalid input, the
    use case's own status otherwise (409 conflict, 403, …)."""
    if isinstance(exc, ValidationError):
        return validation_errors(exc, locale), 422
    return domain_errors(exc, locale), exc.status


async def form_error(
    request: Request[Any, Any, Any],
    template_name: str,
    exc: ValidationError | DomainError,
    *,
    values: Mapping[str, Any],
    **context: Any,
) -> Template:
    """The form again, with what was typed and each error next to its field: 422 for invalid
    input, the use case's own status otherwise (409 conflict, 403, …)."""
    errors, status = refusal(exc, request_locale(request, await current_user(request)))
    shown = {k: v for k, v in values.items() if k != CSRF_FIELD and "password" not in k}
    return await page(request, template_name, status=status, errors=errors, values=shown, **context)


# --- a Markdown field's preview ----------------------------------------------------------------


def markdown_preview(text: str, *, limit: int) -> Markup | None:
    """What a Markdown field will show its readers (chorus.markdown's sanitized HTML, the text cut
    at the field's ``limit``), or None while nothing is typed: the report wizard's statement and
    an announcement, previewed by their forms and by htmx."""
    if not text.strip():
        return None
    return Markup(render(text[:limit]))  # noqa: S704 - sanitized by chorus.markdown


# --- the language switch ----------------------------------------------------------------------


@post("/locale", include_in_schema=False, status_code=303, name="locale_switch")
async def switch_locale(
    request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
) -> Redirect:
    """The language form on every page: remembered in a cookie, and on the account when signed
    in; back to the page it was sent from."""
    chosen = normalize_locale(str(data.get("locale") or DEFAULT_LOCALE))
    user = await current_user(request)
    if user is not None and user.locale != chosen:
        change = PreferencesUpdate.model_validate({"locale": chosen})
        await notifications.update_preferences(actor=user, data=change, settings=settings)
    cookie = Cookie(
        key=LOCALE_COOKIE,
        value=chosen,
        max_age=365 * 24 * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookies_secure,
    )
    return Redirect(path=safe_next(str(data.get("next") or "/")), status_code=303, cookies=[cookie])


def page_router(*handlers: ControllerRouterHandler, path: str = "/") -> Router:
    """A router of HTML pages: left out of the OpenAPI document (integer path ids outside the id
    columns' range are a 404 page before any query, as for the API:
    :class:`chorus.web.middleware.IdRangeMiddleware`)."""
    return Router(path=path, route_handlers=list(handlers), include_in_schema=False, opt={"page": True})


def page_routers() -> list[Router]:
    """The site-wide page routes (the language switch)."""
    return [page_router(switch_locale)]


__all__ = [
    "CSRF_FIELD",
    "LOCALE_COOKIE",
    "FormData",
    "Formats",
    "base_context",
    "domain_errors",
    "form_error",
    "is_account_page",
    "is_htmx",
    "login_redirect",
    "page",
    "page_router",
    "page_routers",
    "parse_form",
    "redirect",
    "request_locale",
    "safe_next",
    "template_config",
    "validation_errors",
]
