"""The merchant pages: ``/`` (what Chorus is, and the merchant check), ``/merchants?q=`` (the
check's results: a whole page, or only the results for htmx as one types) and
``/merchants/{id}`` (the public warning page, made to be shared).

They show what the public API shows and nothing more: the search of
``GET /api/v1/merchants?q=`` (:func:`chorus.cases.service.search_merchants`), the merchant of
``GET /api/v1/merchants/{id}`` (:func:`chorus.cases.service.merchant_page`, identifiers masked)
and, for each case, the public summary of ``GET /api/v1/cases/{id}``
(:func:`chorus.filings.service.case_read`: member count, total loss, filings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from chorus import money
from chorus.cases import public
from chorus.cases import service as cases
from chorus.cases.schemas import CaseRead, MoneyRead
from chorus.filings import service as filings
from chorus.merchants import feed
from chorus.merchants import identifiers as ids
from chorus.merchants.schemas import MerchantRead, MerchantSummary
from chorus.settings import get_settings
from chorus.web.pages import Formats, cookie_or_header_locale, is_htmx, page, page_router, translator

MIN_QUERY = 2  # one character names nothing (and would match half the register)
MAX_QUERY = 200  # the search reads no more than this
SHOWN = 10  # merchants the check lists (each with its case's summary)
# The kind a first report would give the text it was checked with: the most telling kind the
# text is valid as (a shop link before its domain, a mobile number before a QQ number).
_GUESS_ORDER = (
    ids.IdentifierKind.SHOP,
    ids.IdentifierKind.BANK_CARD,
    ids.IdentifierKind.PHONE,
    ids.IdentifierKind.EMAIL,
    ids.IdentifierKind.URL,
    ids.IdentifierKind.QQ,
    ids.IdentifierKind.WECHAT,
)
# A match key's kind → the kind a report is asked for (a link matched by its domain is a link).
_REPORT_KIND = {"domain": "url"}


@dataclass
class Found:
    """One merchant the check found: the search's summary, its open case's public summary (None
    without an open case) and the report wizard's address prefilled for it."""

    merchant: MerchantSummary
    case: CaseRead | None
    join_url: str


@dataclass
class Check:
    """What the check shows for one query."""

    q: str
    too_short: bool
    min_length: int
    found: list[Found]
    first_report_url: str
    item_link: bool  # the text is an item's link: the shop's own link would find more


@dataclass
class CaseView:
    """A case of the warning page: its public summary."""

    summary: CaseRead
    open: bool


def report_url(name: str | None = None, kind: str | None = None, value: str | None = None) -> str:
    """``/report`` with what the wizard can prefill (the API's field names)."""
    params = [(k, v) for k, v in (("name", name), ("kind", kind), ("value", value)) if v]
    return "/report" + (f"?{urlencode(params)}" if params else "")


def guess_kind(text: str) -> str | None:
    """The identifier kind ``text`` most likely is (None: a name)."""
    for kind in _GUESS_ORDER:
        try:
            ident = ids.normalize(kind, text)
        except ids.InvalidIdentifier:
            continue
        if kind is ids.IdentifierKind.SHOP and ":" not in ident.value and not _on_shared_site(ident.value):
            continue  # a shop on its own domain: the link says more as a link
        return kind.value
    return None


def _on_shared_site(shop_link: str) -> bool:
    """A shop link (as normalized) on a site many merchants share (a link shortener, a platform's
    profile page): its domain would say nothing, so it is reported as a shop, the link kept whole."""
    try:
        return ids.normalize(ids.IdentifierKind.URL, shop_link).value in ids.SHARED_DOMAINS
    except ids.InvalidIdentifier:
        return False


def _is_item_link(text: str) -> bool:
    try:
        ids.normalize(ids.IdentifierKind.SHOP, text)
    except ids.InvalidIdentifier as exc:
        return exc.reason == "item_link_not_shop"
    return False


def _join_url(m: MerchantSummary, q: str) -> str:
    kinds = [k for k in m.matched_on if k != "name"]
    if kinds:  # the person typed the identifier themselves: it is theirs to prefill
        return report_url(m.name, _REPORT_KIND.get(kinds[0], kinds[0]), q)
    return report_url(m.name)


async def check(q: str) -> Check:
    """The merchant check: the API's search, each merchant's open case summarized."""
    q = q.strip()[:MAX_QUERY]
    kind = guess_kind(q)
    first = report_url(None if kind else q, kind, q if kind else None)
    if len(q) < MIN_QUERY:
        return Check(
            q, too_short=True, min_length=MIN_QUERY, found=[], first_report_url=report_url(), item_link=False
        )
    merchants = await cases.search_merchants(q, limit=SHOWN)
    # every shown case's summary at once (the results show no timeline)
    summaries = await filings.case_reads(
        [m.open_case_id for m in merchants if m.open_case_id is not None], timeline=False
    )
    found = [
        Found(
            merchant=m,
            case=summaries.get(m.open_case_id) if m.open_case_id is not None else None,
            join_url=_join_url(m, q),
        )
        for m in merchants
    ]
    return Check(
        q,
        too_short=False,
        min_length=MIN_QUERY,
        found=found,
        first_report_url=first,
        item_link=_is_item_link(q),
    )


def combined_loss(summaries: Sequence[CaseRead]) -> list[MoneyRead]:
    """The cases' losses added up per currency."""
    items = [(Decimal(t.amount), t.currency) for s in summaries for t in s.total_loss]
    return [MoneyRead(**t) for t in money.totals(items)]


@get("/", name="home")
async def home(request: Request[Any, Any, Any]) -> Template:
    """What Chorus is in two sentences, and one box to check a merchant before paying."""
    return await page(request, "merchants/check.html", check=None)


@get("/merchants", name="merchant_check")
async def merchant_check(request: Request[Any, Any, Any], q: FromQuery[str] = "") -> Template:
    """Has anyone reported this shop? The whole page, or only the results for htmx (as one
    types; a history restore asks for the whole page)."""
    result = await check(q)
    fragment = is_htmx(request) and request.headers.get("hx-history-restore-request") != "true"
    template = "merchants/_results.html" if fragment else "merchants/check.html"
    # the same address answers a page or a fragment: caches must keep them apart
    headers = {"vary": "Cookie, Accept-Language, HX-Request"}
    return await page(request, template, check=result, headers=headers)


@get("/merchants/{merchant_id:int}", name="merchant_warning")
async def merchant_warning(
    request: Request[Any, Any, Any], merchant_id: FromPath[int]
) -> Template | Redirect:
    """The public warning page of a merchant; a merged merchant's address leads to the merchant
    it became part of. An unknown id is the 404 page (the service's NotFound)."""
    merchant: MerchantRead = await public.merchant_page(merchant_id)
    if merchant.merged_into is not None:
        return Redirect(path=f"/merchants/{merchant.merged_into}", status_code=301)
    summaries = await filings.case_reads([c.id for c in merchant.cases])
    views = [
        CaseView(summary=summaries[c.id], open=c.status in cases.OPEN)
        for c in merchant.cases
        if c.id in summaries
    ]
    # a case merged into another lives on there (members, filings): not shown twice; a case
    # everyone left before anything was filed has nothing to say
    views = [
        v for v in views if v.summary.merged_into is None and (v.summary.member_count or v.summary.filings)
    ]
    views.sort(key=lambda v: (not v.open, -v.summary.id))
    open_case = next((v for v in views if v.open), None)
    return await page(
        request,
        "merchants/warning.html",
        merchant=merchant,
        cases=views,
        member_count=sum(v.summary.member_count for v in views),
        total_loss=combined_loss([v.summary for v in views]),
        join_url=report_url(merchant.name),
        open_case=open_case,
        shop_in_words=feed.shop_in_words,  # a platform's shop in words: 淘宝店铺 123 for "taobao:123"
    )


@get(feed.FEED_PATH, name="merchants_feed")
async def merchants_feed(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The Atom feed of newly reported merchants, for consumer groups to follow: names, where
    they sell, first and last report, how many reported (a range); links to the warning pages."""
    locale = cookie_or_header_locale(request)
    body = feed.atom(
        await public.newly_reported(),
        base_url=get_settings().public_url,
        locale=locale,
        t=translator(locale),
        day=Formats(locale).date,
    )
    return Response(
        body,
        media_type="application/atom+xml; charset=utf-8",
        headers={"vary": "Cookie, Accept-Language"},
    )


def page_routers() -> list[Router]:
    return [page_router(home, merchant_check, merchant_warning, merchants_feed)]
