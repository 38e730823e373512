"""The case pages: ``/me/cases`` (my cases, and what each needs of me now) and ``/cases/{id}``
(the public summary; for members also the timeline, a chart of how the case grew, their
membership, and consent to the exact text of the complaint version they are shown).

A page shows what the API shows the same caller: every part comes from the service the API
calls, with the caller as ``actor`` (each service enforces its own rule), never from tables.
The case page reads several domains (a case's filings, complaint versions, evidence and
announcements are theirs), so it calls one service of each rather than one for all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal, get_currency_name
from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import Field, StrictBool, ValidationError

from chorus.accounts.schemas import UserRead
from chorus.authorizations import pages as authorization_pages
from chorus.cases import service as cases
from chorus.cases.schemas import (
    CaseGrowth,
    CaseRead,
    MembershipRead,
    MembershipUpdate,
    MoneyIn,
    MyCaseRead,
)
from chorus.complaints import cache as complaint_cache
from chorus.complaints import service as complaints
from chorus.complaints.pages import Diff, parse_diff
from chorus.complaints.schemas import ComplaintBrief, ComplaintRead
from chorus.errors import Conflict, DomainError, Forbidden
from chorus.evidence import pages as evidence_pages
from chorus.evidence import service as evidence
from chorus.evidence.schemas import EvidenceRead
from chorus.filings import service as filings
from chorus.filings.schemas import FilingRead
from chorus.i18n import t
from chorus.ids import Id
from chorus.inputs import Input
from chorus.ladder import pages as ladder_pages
from chorus.ladder.schemas import LadderStepRead
from chorus.notifications import service as notifications
from chorus.notifications.schemas import AnnouncementRead
from chorus.web.auth import current_user
from chorus.web.guards import requires_login
from chorus.web.pages import (
    DEFAULT_TIME_ZONE,
    FormData,
    babel_locale,
    page,
    page_router,
    redirect,
    refusal,
    request_locale,
)

OPEN = ("gathering", "filing")
# What the loss field offers, in the report wizard and here (a member's own ISO 4217 code, if
# another, is kept on top).
CURRENCIES: tuple[str, ...] = ("CNY", "HKD", "MOP", "TWD", "USD", "EUR", "GBP", "JPY", "KRW", "SGD")
CURRENCIES += ("MYR", "THB", "AUD", "CAD")
# Case events shown on a member's timeline; member_joined/left are the chart's, filing_* are
# told in full by the filings' own events.
TIMELINE_KINDS = {"opened", "status_changed", "complaint_built", "merged", "merchant_merged"}
MAX_VERSIONS_SHOWN = 100  # versions one consent form may name: one per regulator of the registry


# --- what needs me --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """What a member should do now in a case: agree to a complaint version (the latest for a
    regulator, which they have not agreed to), add evidence (none of theirs yet)."""

    consent: bool = False
    consented_older: bool = False  # they agreed before: to an older version, or before any text
    evidence: bool = False

    @property
    def any(self) -> bool:
        return self.consent or self.evidence


def needs_of(
    status: str,
    consented_at: datetime | None,
    agreed: list[int],
    latest: list[ComplaintBrief],
    mine: list[EvidenceRead],
) -> Needs:
    if status not in OPEN:
        return Needs()
    consent = any(v.id not in agreed for v in latest)  # agreed: empty while not consenting
    return Needs(
        consent=consent,
        consented_older=consent and consented_at is not None,
        evidence=not [e for e in mine if e.uploaded_by_me and not e.withdrawn],
    )


async def _latest_versions(case_id: int, user: UserRead) -> list[ComplaintBrief]:
    """The latest version for each regulator, newest first: what a member is asked to agree to."""
    versions = (await complaints.list_for(case_id, actor=user)).items  # newest first
    return complaints.latest_versions(versions)


@dataclass(frozen=True)
class MyCase:
    case: MyCaseRead
    needs: Needs
    ladder_next: LadderStepRead | None = None  # the next step of my path to a refund


@get("/me/cases", guards=[requires_login], name="my_cases")
async def my_cases_page(request: Request[Any, Any, Any], user: NamedDependency[UserRead]) -> Template:
    """My cases, newest first, each with its status, what it needs of me now and the next step
    of my path to a refund."""
    locale = request_locale(request, user)
    mine = []
    for c in (await cases.my_cases(actor=user)).items:
        latest = await _latest_versions(c.case_id, user)
        own = await evidence.list_own(c.case_id, actor=user)
        needs = needs_of(c.status, c.consented_at, c.consented_complaint_ids, latest, own)
        ladder = await ladder_pages.section(c.case_id, user, locale)
        mine.append(MyCase(case=c, needs=needs, ladder_next=ladder["next"]))
    return await page(request, "cases/mine.html", my_cases=mine)


@get("/me", guards=[requires_login])
async def me_page() -> Redirect:
    """``/me``, as people type it: their cases (signed out: the login page, then here)."""
    return Redirect(path="/me/cases", status_code=302)


# --- the timeline ---------------------------------------------------------------------------------


TIMELINE_SHOWN = 5  # the newest lines shown; older ones are one tap away


@dataclass(frozen=True)
class Happening:
    """One line of a member's timeline. ``key``/``params`` are the headline's catalog entry;
    ``case_status``/``filing_status`` are put into it as words by the template."""

    at: datetime
    kind: str  # case | filing | reply | announcement
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    case_status: str | None = None
    filing_status: str | None = None
    source: str | None = None
    note: str = ""
    reference: str | None = None
    body_html: str = ""


def timeline(
    summary: CaseRead, filings_read: list[FilingRead], announcements: list[AnnouncementRead]
) -> list[Happening]:
    """Filings (every status change, regulator reply, organizer's update), announcements and the
    case's own milestones, newest first."""
    out: list[Happening] = []
    for e in summary.timeline:
        if e.kind not in TIMELINE_KINDS:
            continue
        if e.kind == "merged":
            key = (
                "page.case.timeline.merged_into"
                if "into_case" in e.data
                else "page.case.timeline.merged_from"
            )
            params = {"case_id": e.data.get("into_case") or e.data.get("from_case") or ""}
            out.append(Happening(at=e.at, kind="case", key=key, params=params))
        elif e.kind == "status_changed":
            out.append(
                Happening(
                    at=e.at,
                    kind="case",
                    key="page.case.timeline.status_changed",
                    case_status=str(e.data.get("status", "")),
                )
            )
        elif e.kind == "complaint_built":
            # a version is written for one regulator (events before names were kept: without it)
            params = {"version": e.data.get("version", ""), "regulator": e.data.get("regulator", "")}
            key = "page.case.timeline.complaint_built" + ("_for" if params["regulator"] else "")
            out.append(Happening(at=e.at, kind="case", key=key, params=params))
        else:
            out.append(Happening(at=e.at, kind="case", key=f"page.case.timeline.{e.kind}"))
    for f in filings_read:
        previous: str | None = None
        for ev, reference in zip(f.events, f.references_given(), strict=True):
            # the same status again: a reply (the regulator's, or a mail from another address),
            # or news an organizer recorded; else the filing's new status
            same = ev.status.value == previous
            reply = same and ev.source in ("regulator", "email")
            if reply:
                key = f"page.case.timeline.reply_{ev.source}"
            elif same and ev.source == "organizer":
                key = "page.case.timeline.update"
            else:
                key = "page.case.timeline.filing"
            out.append(
                Happening(
                    at=ev.at,
                    kind="reply" if reply else "filing",
                    key=key,
                    params={"regulator": f.regulator.name},
                    filing_status=ev.status.value,
                    source=ev.source,
                    note=ev.note,
                    reference=reference,  # where the regulator first gave it (or changed it)
                )
            )
            previous = ev.status.value
    for a in announcements:
        out.append(
            Happening(
                at=a.created_at,
                kind="announcement",
                key="page.case.timeline.announcement",
                params={"title": a.title},
                body_html=a.body_html,
            )
        )
    return sorted(out, key=lambda h: h.at, reverse=True)


# --- the case page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionToAgree:
    """A complaint version a member is asked to agree to (the latest for its regulator): its
    text as this member may read it (their member view; organizers the full text)."""

    brief: ComplaintBrief
    text: ComplaintRead | None  # None: too long for this page (INLINE_AT_MOST): its printable page
    text_html: str | None
    agreed: bool  # the member agreed to this very version
    view: str = "member"  # the text they read: "member" (their member view), "full" (organizers)
    characters: int = 0  # of the full text
    # not agreed yet: the newest version of the same regulator they agreed to, and what changed
    # since in the text as they read it (None: none, or no member view to compare)
    since: ComplaintBrief | None = None
    changes: Diff | None = None
    # not agreed yet, nothing of its regulator agreed to: another regulator's version that this
    # one repeats but for ``changes`` (see ``_beside``), which the member agreed to, or which is
    # shown in full above it
    beside: ComplaintBrief | None = None
    beside_agreed: bool = False
    # ``changes`` are of the texts every member who is not named reads (texts too long for this
    # page: one comparison for the whole crowd, not one per named member)
    shared: bool = False


@dataclass(frozen=True)
class Consent:
    """The consent part of the page: the latest version for each regulator, newest first, and
    where the member stands."""

    versions: list[VersionToAgree]
    consented_at: datetime | None

    @property
    def pending(self) -> list[VersionToAgree]:
        return [v for v in self.versions if not v.agreed]

    @property
    def current(self) -> bool:
        """The member agreed to every latest version (or to be named, before any version existed)."""
        return self.consented_at is not None and not self.pending


# A version whose full text is longer than INLINE_AT_MOST is not read for the case page, which
# says how long it is and links to the member's printable page. What changed in it is compared
# as the members who are not named read it (_long), once for all of them.


async def _version_to_agree(
    case_id: int, version: ComplaintBrief, versions: list[ComplaintBrief], reading: _Reading
) -> VersionToAgree:
    characters = reading.lengths.get(version.id, 0)
    text, html = None, None
    if characters <= complaint_cache.INLINE_AT_MOST:  # else not read at all: a link to its printable page
        text = await complaints.get_or_raise(version.id, actor=reading.user)
        html = (await complaint_cache.document(text.markdown))[0]
    shown = VersionToAgree(version, text, html, version.id in reading.agreed, reading.view, characters)
    if shown.agreed:
        return shown
    since = complaints.newest_agreed(versions, reading.agreed, version.regulator.id)
    if since is None:
        return shown
    try:  # what changed since the text agreed to, as the member reads them (the API's diff)
        changes = await _changes(case_id, since, shown, reading)
    except Conflict:  # a version built before member views: its text in full, nothing to compare
        return shown
    return replace(shown, since=since, changes=parse_diff(changes.diff), shared=_long(since, shown, reading))


@dataclass(frozen=True)
class _Reading:
    """Who reads the consent part, and what the page knows of the versions' texts."""

    user: UserRead
    view: str  # "member" or "full"
    agreed: list[int]  # the versions they agreed to
    lengths: dict[int, int]  # characters of each version's full text


def _long(old: ComplaintBrief, new: VersionToAgree, reading: _Reading) -> bool:
    """The texts are compared as every member who is not named reads them: member views of
    which one is too long for the page (one comparison for the crowd, not one per named member)."""
    longest = max(reading.lengths.get(old.id, 0), new.characters)
    return reading.view == "member" and longest > complaint_cache.INLINE_AT_MOST


async def _changes(
    case_id: int,
    old: ComplaintBrief,
    new: VersionToAgree,
    reading: _Reading,
    base: VersionToAgree | None = None,
) -> complaints.TextChanges:
    """What changed from ``old`` (``base``: its text already read) to ``new``, as the member
    reads them, or (``_long``) as the members who are not named do."""
    if _long(old, new, reading) or new.text is None:
        return await complaints.shared_diff(case_id, old, new.brief, actor=reading.user)
    before = (
        base.text
        if base is not None and base.text is not None
        else await complaints.get_or_raise(old.id, actor=reading.user)
    )
    return await complaints.text_diff(before, new.text, actor=reading.user)


# A text of which at most this share of lines are not in the one it is compared with is shown as
# its differences, its full text one tap away.
BESIDE_AT_MOST = 0.25


async def _beside(case_id: int, items: list[VersionToAgree], reading: _Reading) -> list[VersionToAgree]:
    """The complaints to several regulators of one case are mostly one text (the addressee, the
    channel, the legal basis differ), so a member need not read the same pages twice. A text
    with nothing of its regulator to compare (no ``since``) is shown as its differences from a
    text the member already agreed to, when there is one (a regulator added after they agreed);
    else from the first text they are asked to read, which stays in full — when both are in
    the same language and at most ``BESIDE_AT_MOST`` of its lines are not in that one."""
    agreed = next((v for v in items if v.agreed), None)
    first: VersionToAgree | None = None  # the first text shown in full
    out = []
    for item in items:
        if item.agreed or item.since is not None:
            out.append(item)
            continue
        shown = await _differences(case_id, item, agreed or first, reading)
        if shown is None:
            first = first or item
        out.append(shown or item)
    return out


async def _differences(
    case_id: int, item: VersionToAgree, base: VersionToAgree | None, reading: _Reading
) -> VersionToAgree | None:
    """``item`` shown as its differences from ``base`` when that spares reading: the same
    language, at most ``BESIDE_AT_MOST`` of its lines new; None: in full."""
    if base is None or item.brief.locale != base.brief.locale:
        return None
    try:
        found = await _changes(case_id, base.brief, item, reading, base=base)
    except Conflict:  # built before member views: nothing to compare
        return None
    changes = parse_diff(found.diff)
    if changes.added > BESIDE_AT_MOST * found.lines:
        return None
    shared = _long(base.brief, item, reading)
    return replace(item, beside=base.brief, beside_agreed=base.agreed, changes=changes, shared=shared)


def membership_values(m: MembershipRead) -> dict[str, str]:
    """The membership form's fields as the member last saved them."""
    return {
        "loss.amount": m.loss.amount,
        "loss.currency": m.loss.currency,
        "incident_date": m.incident_date.isoformat(),
        "order_refs": "\n".join(m.order_refs),
        "statement": m.statement,
    }


def currency_options(current: str, locale: str) -> list[tuple[str, str]]:
    """The loss field's choices, ``("CNY", "人民币（CNY）")``; ``current`` first if not among them."""
    babel = babel_locale(locale)
    codes = list(CURRENCIES) if current in CURRENCIES or not current else [current, *CURRENCIES]
    option = "page.case.membership.currency_option"
    return [(c, t(option, locale, name=get_currency_name(c, locale=babel), code=c)) for c in codes]


async def _time_zone(user: UserRead) -> ZoneInfo:
    prefs = (await notifications.preferences_of([user.id])).get(user.id)
    try:
        return ZoneInfo(prefs.time_zone if prefs is not None else DEFAULT_TIME_ZONE)
    except (ValueError, KeyError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


async def case_context(
    request: Request[Any, Any, Any], case_id: int, *, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the case page shows this caller. A non-member gets the public summary only
    (what ``GET /api/v1/cases/{id}`` shows): none of the member parts is even read for them."""
    summary = await filings.case_read(case_id)
    user = await current_user(request)
    locale = request_locale(request, user)
    membership: MembershipRead | None = None
    if user is not None:
        try:
            membership = await cases.my_membership(case_id, actor=user)
        except Forbidden:
            membership = None
    ctx: dict[str, Any] = {
        "case": summary,
        "membership": membership,
        "open": summary.status in OPEN,
        "failed": None,
    }
    if user is None or membership is None:
        return ctx
    versions = (await complaints.list_for(case_id, actor=user)).items  # newest first
    latest = complaints.latest_versions(versions)
    agreed = membership.consented_complaint_ids
    reading = _Reading(
        user,
        "full" if membership.role == "organizer" else "member",
        membership.consented_complaint_ids,
        await complaints.text_lengths(case_id, versions, actor=user) if latest else {},
    )
    to_agree = await _beside(
        case_id, [await _version_to_agree(case_id, v, versions, reading) for v in latest], reading
    )
    own = await evidence.list_own(case_id, actor=user)
    filings_read = [await filings.get_or_raise(f.id, actor=user) for f in summary.filings]
    news = (await notifications.announcements(case_id, actor=user)).items
    growth = await cases.growth(case_id, actor=user, time_zone=await _time_zone(user))
    ctx.update(
        needs=needs_of(summary.status, membership.consented_at, agreed, latest, own),
        consent=Consent(versions=to_agree, consented_at=membership.consented_at),
        evidence_section=await evidence_pages.section(request, case_id, user, own=own),
        timeline=timeline(summary, filings_read, news),
        timeline_shown=TIMELINE_SHOWN,
        growth=growth,
        growth_currencies=_currencies(growth),
        currency_options=currency_options(membership.loss.currency, locale),
        values=values if values is not None else membership_values(membership),
        # the representative and authorizations part (chorus.authorizations.pages)
        representation=await authorization_pages.section(case_id, user),
        # the member's path to a refund (chorus.ladder.pages)
        ladder=await ladder_pages.section(case_id, user, locale),
    )
    return ctx


@get("/cases/{case_id:int}", name="case")
async def case_page(request: Request[Any, Any, Any], case_id: FromPath[int]) -> Template:
    """Anyone: the case's public summary. Members: also what needs them, the timeline, the
    growth chart, the complaint text they are asked to consent to, their membership."""
    return await page(request, "cases/case.html", **await case_context(request, case_id))


# --- forms ---------------------------------------------------------------------------------------

_ORDER_REF = re.compile(r"^order_refs\[(\d+)\]$")


async def _refused(
    request: Request[Any, Any, Any],
    case_id: int,
    exc: ValidationError | DomainError,
    *,
    form: str,
    values: dict[str, Any] | None = None,
) -> Template:
    """The case page again with the form's errors next to its fields: 422 for invalid input,
    the use case's own status otherwise (409 for a version built meanwhile)."""
    locale = request_locale(request, await current_user(request))
    errors, status = refusal(exc, locale)
    for name in list(errors):  # the order references are one textarea, a line each
        found = _ORDER_REF.match(name)
        if found:
            message = errors.pop(name)
            errors.setdefault("order_refs", f"{int(found.group(1)) + 1}: {message}")
    if form == "consent" and "consent" in errors:  # the box left unticked
        errors["consent"] = t("page.case.consent.tick", locale)
    ctx = await case_context(request, case_id, values=values)
    ctx.update(errors=errors, failed=form)
    return await page(request, "cases/case.html", status=status, **ctx)


class MembershipForm(MembershipUpdate):
    """The API's membership update, every field of the form required (the form shows them all)."""

    loss: MoneyIn
    incident_date: date
    order_refs: list[str]
    statement: str


@post("/cases/{case_id:int}/membership", guards=[requires_login], opt={"rule": "member"})
async def update_membership(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """My loss, incident date, order references (a line each) and statement."""
    loss: dict[str, str] = {"currency": str(data.get("loss.currency", ""))}
    if str(data.get("loss.amount", "")).strip():
        loss["amount"] = str(data["loss.amount"]).strip()
    fields: dict[str, Any] = {
        "loss": loss,
        "order_refs": [line for line in str(data.get("order_refs", "")).splitlines() if line.strip()],
        "statement": str(data.get("statement", "")),
    }
    if str(data.get("incident_date", "")).strip():
        fields["incident_date"] = str(data["incident_date"]).strip()
    typed = {k: v for k, v in data.items() if not k.startswith("_")}
    try:
        change = MembershipForm.model_validate(fields)
        await cases.update_membership(case_id, actor=user, data=change)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, case_id, exc, form="membership", values=typed)
    return redirect(request, f"/cases/{case_id}#membership", flash="page.case.flash.membership_saved")


class ConsentForm(Input):
    """The page's consent: the versions whose texts it showed (none: no version existed yet)."""

    consent: StrictBool
    complaint_id: list[Id] = Field(default=[], max_length=MAX_VERSIONS_SHOWN)


@post("/cases/{case_id:int}/consent", guards=[requires_login], opt={"rule": "member"})
async def set_consent(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Agree to be named in the versions whose texts the page showed (``complaint_id``, once
    for each; none: no version existed yet), or withdraw (``consent=false``). A version built
    in between refuses the consent (409) and the page shows the new text."""
    if data.get("consent") == "false":
        await complaints.set_consent(case_id, actor=user, consent=False)
        return redirect(request, f"/cases/{case_id}#consent", flash="page.case.flash.consent_withdrawn")
    shown = data.get("complaint_id") or []
    fields: dict[str, Any] = {
        "complaint_id": [i for i in ([shown] if isinstance(shown, str) else shown) if i]
    }
    if data.get("consent") == "true":
        fields["consent"] = True
    try:
        request_ = ConsentForm.model_validate(fields)
        await complaints.set_consent(
            case_id, actor=user, consent=request_.consent, shown=request_.complaint_id
        )
    except (ValidationError, DomainError) as exc:
        return await _refused(request, case_id, exc, form="consent")
    return redirect(request, f"/cases/{case_id}#consent", flash="page.case.flash.consented")


# --- the growth chart ------------------------------------------------------------------------------

# The SVG is an image: no script at all, and its own inline <style> (pygal's) and nothing else.
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
CHART_FONTS = (
    'system-ui, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"WenQuanYi Micro Hei", "Segoe UI", Roboto, Arial, sans-serif'
)
_SVG = "{http://www.w3.org/2000/svg}"


def _currencies(growth: CaseGrowth) -> list[str]:
    return [m.currency for m in growth.points[-1].losses] if growth.points else []


def chart_svg(growth: CaseGrowth, *, locale: str) -> str:
    """Members and cumulative loss (one line per currency, on the right axis) by day, as SVG:
    pygal's, with its scripts taken out (an image needs none; the CSP allows none)."""
    # imported on the first chart (7 MB of memory): not by a worker, nor by a web process nobody
    # has asked for a chart yet
    import pygal
    from pygal.etree import etree
    from pygal.style import Style

    babel = babel_locale(locale)
    style = Style(
        font_family=CHART_FONTS,
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1f2937",
        foreground_strong="#111827",
        foreground_subtle="#e5e7eb",
        colors=("#1d4ed8", "#b45309", "#15803d", "#7c3aed"),
        label_font_size=14,
        major_label_font_size=14,
        legend_font_size=15,
        title_font_size=15,
        stroke_width=3,
    )
    points = growth.points
    start = points[0].day - timedelta(days=1) if points else None
    days = [start, points[-1].day] if start else []  # the first and the last day: labels never overlap
    most = points[-1].members if points else 1
    step = max(1, math.ceil(most / 5))  # whole people on the left axis, five steps at most
    chart = pygal.DateLine(
        js=[],
        style=style,
        width=420,
        height=300,
        margin=10,
        spacing=8,
        legend_at_bottom=True,
        legend_at_bottom_columns=1,
        dots_size=4,
        stroke_style={"width": 3},
        x_labels=days,
        truncate_label=-1,
        truncate_legend=-1,
        y_labels=list(range(0, most + step, step)),
        disable_xml_declaration=True,
        x_value_formatter=lambda d: str(format_date(d, format="short", locale=babel)),
        value_formatter=lambda v: str(format_decimal(v, locale=babel)),
    )
    if start is not None:
        # the day before anyone joined, the case counted nothing: the lines start from zero
        chart.add(t("page.case.chart.members", locale), [(start, 0)] + [(p.day, p.members) for p in points])
        for currency in _currencies(growth):
            series: list[tuple[date, Decimal | int]] = [(start, 0)]
            for p in points:
                amount = next((Decimal(m.amount) for m in p.losses if m.currency == currency), Decimal(0))
                series.append((p.day, amount))
            label = t("page.case.chart.loss", locale, currency=currency)
            # dashed: told apart from the members' line without colour, also where they overlap
            chart.add(label, series, secondary=True, stroke_style={"width": 3, "dasharray": "8, 5"})
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in ("script", f"{_SVG}script"):
                parent.remove(child)
    return str(etree.tostring(root, encoding="unicode"))


@get(
    "/cases/{case_id:int}/chart.svg",
    guards=[requires_login],
    opt={"rule": "member"},
    name="case_chart",
)
async def case_chart(
    request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
) -> Response[str]:
    """Members: the growth chart (aggregates only: counts and sums by day, no one named)."""
    growth = await cases.growth(case_id, actor=user, time_zone=await _time_zone(user))
    return Response(
        chart_svg(growth, locale=request_locale(request, user)),
        media_type="image/svg+xml",
        headers={"content-security-policy": CHART_CSP, "cache-control": "private, no-store"},
    )


def page_routers() -> list[Router]:
    return [page_router(me_page, my_cases_page, case_page, update_membership, set_consent, case_chart)]
