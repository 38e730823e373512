"""The organizer console's own pages: ``/cases/{id}/organize`` (the members: loss, evidence,
consent to which complaint version, role; filters; promote; the CSV of consenting members a
regulator asks for) and ``/cases/{id}/organize/evidence`` (each member's evidence with the
metadata-free thumbnails the API serves organizers, the hash chain's verdict, the patterns the
members share). The other sub-pages extend the same frame (``organize/_layout.html``).

Organizers of the case only: each route says so (``opt={"rule": "organizer"}``) and every read is
the service the API calls with the caller as ``actor`` (``cases.members`` refuses anyone else),
so the console shows an organizer exactly what the API shows them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.cases import service as cases
from chorus.cases.schemas import MemberRead, OrganizerRequest
from chorus.complaints import service as complaints
from chorus.complaints.schemas import ComplaintBrief, PatternRead
from chorus.errors import DomainError, NotFound
from chorus.evidence import pages as evidence_pages
from chorus.evidence import service as evidence
from chorus.evidence import sniff
from chorus.evidence.schemas import EvidenceRead
from chorus.i18n import t
from chorus.notifications import service as notifications
from chorus.notifications.schemas import EvidenceReminder
from chorus.settings import Settings
from chorus.web.guards import requires_login
from chorus.web.pages import (
    DEFAULT_TIME_ZONE,
    Formats,
    FormData,
    Paging,
    domain_errors,
    page,
    page_router,
    parse_form,
    redirect,
    request_locale,
)

# The CSV's columns, in order (titles: page.organize.csv.<column>, in the organizer's language).
CSV_COLUMNS = (
    "no",
    "name",
    "email",
    "loss_amount",
    "currency",
    "incident_date",
    "order_refs",
    "consented_at",
    "complaint_version",
)
# A cell starting with one of these is a formula to a spreadsheet program: a display name such as
# "=HYPERLINK(…)" must stay text (OWASP: CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- members ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consent:
    """A member's consent in words: ``state`` is none (not agreed), latest (to the latest
    version for each regulator), older (to some of this case's versions, not to every latest
    one), earlier (to a version of a case merged into this one) or no_text (agreed before any
    version was built). ``lines``: for each latest version, ``("latest", it)`` if agreed to,
    ``("older", v)`` if agreed to an older version ``v`` of the same regulator, ``("not_yet",
    it)`` otherwise. ``agreed``: this case's versions agreed to, newest first."""

    state: str
    lines: list[tuple[str, ComplaintBrief]] = field(default_factory=list)
    agreed: list[ComplaintBrief] = field(default_factory=list)


def consent_of(
    member: MemberRead, versions: dict[int, ComplaintBrief], latest: list[ComplaintBrief]
) -> Consent:
    """``versions``: the case's, by id; ``latest``: the latest of each regulator."""
    if member.consented_at is None:
        return Consent("none")
    ids = member.consented_complaint_ids
    agreed = sorted((v for v in versions.values() if v.id in ids), key=lambda v: -v.id)  # newest first
    if not agreed:  # before any text, or to a version of a merged case: its number means nothing here
        return Consent("no_text" if member.consented_complaint_id is None else "earlier")
    lines: list[tuple[str, ComplaintBrief]] = []
    for v in latest:
        mine = complaints.newest_agreed(agreed, ids, v.regulator.id)
        lines.append(("not_yet", v) if mine is None else ("latest" if mine.id == v.id else "older", mine))
    state = "latest" if all(kind == "latest" for kind, _ in lines) else "older"
    return Consent(state, lines, agreed)


@dataclass(frozen=True)
class MemberRow:
    member: MemberRead
    evidence: int  # their evidence in the case, not withdrawn
    consent: Consent


MEMBERS_PER_PAGE = 100  # rows of the members table a page (a case may have thousands)


@dataclass(frozen=True)
class Members:
    """What the members page shows: every row, the ones the filters keep, a page of them, and
    the counts."""

    rows: list[MemberRow]
    shown: list[MemberRow]
    latest: list[ComplaintBrief]  # the latest version for each regulator, newest first
    not_consented: bool
    no_evidence: bool
    paging: Paging

    @property
    def on_page(self) -> list[MemberRow]:
        return self.paging.slice(self.shown)

    @property
    def page_query(self) -> str:
        """The address's query for another page, with the filters, up to its number."""
        filters = [
            (k, "1")
            for k, on in (("not_consented", self.not_consented), ("no_evidence", self.no_evidence))
            if on
        ]
        return urlencode([*filters, ("page", "")])

    @property
    def consenting(self) -> int:
        return sum(1 for r in self.rows if r.consent.state != "none")

    @property
    def without_evidence(self) -> int:
        return sum(1 for r in self.rows if not r.evidence)

    @property
    def filtered(self) -> bool:
        return self.not_consented or self.no_evidence


def _flag(value: str) -> bool:
    return value not in ("", "0", "false", "off")


async def _versions(case_id: int, user: UserRead) -> tuple[dict[int, ComplaintBrief], list[ComplaintBrief]]:
    items = (await complaints.list_for(case_id, actor=user)).items  # newest first
    return {v.id: v for v in items}, complaints.latest_versions(items)


async def members_of(
    case_id: int, user: UserRead, *, not_consented: bool, no_evidence: bool, page: int = 1
) -> Members:
    """The members table; 404 for a page beyond the last."""
    listed = (await cases.members(case_id, actor=user)).items  # organizers only: the API's rule
    versions, latest = await _versions(case_id, user)
    counts = await evidence.counts_by_uploader(case_id, actor=user)
    rows = [MemberRow(m, counts.get(m.user_id, 0), consent_of(m, versions, latest)) for m in listed]
    shown = [
        r
        for r in rows
        if (not not_consented or r.consent.state == "none") and (not no_evidence or not r.evidence)
    ]
    return Members(
        rows, shown, latest, not_consented, no_evidence, Paging.of(len(shown), MEMBERS_PER_PAGE, page)
    )


async def _members_page(
    request: Request[Any, Any, Any],
    case_id: int,
    user: UserRead,
    *,
    not_consented: bool = False,
    no_evidence: bool = False,
    page_number: int = 1,
    status: int = 200,
    **context: Any,
) -> Template:
    found = await members_of(
        case_id, user, not_consented=not_consented, no_evidence=no_evidence, page=page_number
    )
    summary = await cases.summary(case_id)
    return await page(
        request,
        "organize/members.html",
        status=status,
        case=summary,
        organize_section="members",
        members=found,
        **context,
    )


@get("/cases/{case_id:int}/organize", guards=[requires_login], opt={"rule": "organizer"}, name="organize")
async def members_page(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    user: NamedDependency[UserRead],
    not_consented: FromQuery[str] = "",
    no_evidence: FromQuery[str] = "",
    page: FromQuery[int] = 1,
) -> Template:
    """The members table, MEMBERS_PER_PAGE rows a page (``?page=``); ``?not_consented=1`` and
    ``?no_evidence=1`` keep only those rows."""
    return await _members_page(
        request,
        case_id,
        user,
        not_consented=_flag(not_consented),
        no_evidence=_flag(no_evidence),
        page_number=page,
    )


@post("/cases/{case_id:int}/organize/organizers", guards=[requires_login], opt={"rule": "organizer"})
async def promote(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Make a member an organizer (the form asked to confirm first): ``cases.service.promote``,
    the API's use case (the new organizer is told). A form naming no member of the case comes
    back with the reason above the table (for anyone else the members read refuses first)."""
    try:
        change = parse_form(OrganizerRequest, data)
        await cases.promote(case_id, actor=user, user_id=change.user_id)
    except (ValidationError, NotFound) as exc:
        if isinstance(exc, NotFound) and exc.code != "member_not_found":
            raise
        status = exc.status if isinstance(exc, NotFound) else 422
        reason = t("page.organize.members.promote_failed", request_locale(request, user))
        return await _members_page(request, case_id, user, status=status, promote_error=reason)
    return redirect(request, f"/cases/{case_id}/organize", flash="page.organize.flash.promoted")


# --- the CSV a regulator asks for ---------------------------------------------------------------


def cell(value: str) -> str:
    """A cell as text a spreadsheet program will not run: a leading formula character is quoted."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_line(values: Sequence[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([cell(v) for v in values])
    return out.getvalue().encode("utf-8")


def _day(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).date().isoformat() if moment is not None else ""


async def _rows(members: list[MemberRow], locale: str, tz: tzinfo) -> AsyncIterator[bytes]:
    yield "\ufeff".encode()  # the BOM: spreadsheet programs then read the Chinese text as UTF-8
    yield csv_line([t(f"page.organize.csv.{c}", locale) for c in CSV_COLUMNS])
    for n, row in enumerate(members, start=1):
        m = row.member
        yield csv_line(
            [
                str(n),
                m.display_name,
                m.email,
                m.loss.amount,
                m.loss.currency,
                m.incident_date.isoformat(),
                "; ".join(m.order_refs),
                _day(m.consented_at, tz),
                "; ".join(
                    t("page.organize.csv.version", locale, version=v.version, regulator=v.regulator.name)
                    for v in row.consent.agreed
                ),
            ]
        )


@get("/cases/{case_id:int}/organize/members.csv", guards=[requires_login], opt={"rule": "organizer"})
async def members_csv(
    request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
) -> Stream:
    """The members who agreed to be named, one row each, as regulators' complaint forms list
    complainants (name, contact, loss, date, order numbers) and what they agreed to; UTF-8 with
    a BOM. Nobody who has not agreed is in it."""
    found = await members_of(case_id, user, not_consented=False, no_evidence=False)  # 403 first
    prefs = (await notifications.preferences_of([user.id])).get(user.id)
    tz = Formats(request_locale(request, user), prefs.time_zone if prefs else DEFAULT_TIME_ZONE).tz
    consenting = [r for r in found.rows if r.consent.state != "none"]
    return Stream(
        _rows(consenting, request_locale(request, user), tz),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="case-{case_id}-members.csv"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- evidence by member, and what the members share -------------------------------------------


@dataclass(frozen=True)
class MemberEvidence:
    member: MemberRead | None  # None: people no longer in the case (what a filing keeps of theirs)
    items: list[EvidenceRead]


# The evidence page: the members whose evidence a page shows (a case may have thousands, and
# tens of thousands of items), and the most items whose chain is recomputed from the stored
# bytes on each view (more: on request, as the members' evidence section does; a case of
# 50,000 items is a gigabyte of files to read).
EVIDENCE_MEMBERS_PER_PAGE = 50
VERIFY_ON_VIEW_AT_MOST = 5000


@dataclass(frozen=True)
class EvidencePage:
    groups: list[MemberEvidence]
    total: int
    members_with: int  # members with evidence, in the whole case
    thumbnails: frozenset[int]  # evidence ids with a metadata-free copy (what others are served)
    chain: evidence_pages.ChainCheck | None  # None: too many items to check on each view
    patterns: list[PatternRead]
    members_total: int
    locale: str
    to_remind: int  # members (not the caller) with no evidence: whom the reminder goes to
    reminder: EvidenceReminder | None  # the last one
    now: datetime
    paging: Paging

    @property
    def can_remind(self) -> bool:
        """Someone to remind, and the last reminder a day ago or more."""
        return self.to_remind > 0 and (self.reminder is None or self.now >= self.reminder.next_at)

    def size(self, n: int) -> str:
        return evidence_pages.size_text(n, self.locale)

    def type_label(self, item: EvidenceRead) -> str:
        return next((r.extension.upper() for r in sniff.ALLOWED if r.media_type == item.media_type), "")


def by_member(
    members: Sequence[MemberRead], items: Sequence[EvidenceRead], *, left: bool = True
) -> list[MemberEvidence]:
    """Each member (joining order) with their evidence not withdrawn (chain order); then
    (``left``) what people who left the case uploaded and a filing keeps."""
    mine: dict[int | None, list[EvidenceRead]] = {}
    for e in items:
        if not e.withdrawn:
            mine.setdefault(e.uploader_id, []).append(e)
    groups = [MemberEvidence(m, mine.pop(m.user_id, [])) for m in members]
    rest = [e for gone in mine.values() for e in gone] if left else []
    return groups + ([MemberEvidence(None, sorted(rest, key=lambda e: e.chain_index))] if rest else [])


@get("/cases/{case_id:int}/organize/evidence", guards=[requires_login], opt={"rule": "organizer"})
async def evidence_page(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
    page: FromQuery[int] = 1,
) -> Template:
    """Every member's evidence, EVIDENCE_MEMBERS_PER_PAGE members a page (``?page=``; thumbnails
    are the API's download route: an organizer is served the metadata-free copy of someone
    else's photo), the reminder to those who have none yet, the chain recomputed from the
    stored bytes (of a long chain: on request), and the patterns the next complaint version
    will cite."""
    return await _evidence_page(request, case_id, user, settings, page_number=page)


async def _evidence_page(
    request: Request[Any, Any, Any],
    case_id: int,
    user: UserRead,
    settings: Settings,
    *,
    page_number: int = 1,
    status: int = 200,
    **context: Any,
) -> Template:
    members = (await cases.members(case_id, actor=user)).items  # organizers only
    counts = await evidence.counts_by_uploader(case_id, actor=user)
    paging = Paging.of(len(members), EVIDENCE_MEMBERS_PER_PAGE, page_number)
    on_page = paging.slice(members)
    member_ids = {m.user_id for m in members}
    gone = sorted(u for u in counts if u not in member_ids)  # uploaders who left: on the last page
    last = paging.page == paging.pages
    items = await evidence.list_by_uploaders(
        case_id, [m.user_id for m in on_page] + (gone if last else []), actor=user
    )
    total = sum(counts.values())
    locale = request_locale(request, user)
    chain = None
    if total <= VERIFY_ON_VIEW_AT_MOST:
        verdict = await evidence.verify(case_id, actor=user, settings=settings)
        chain = evidence_pages.chain_check(verdict, await evidence.list_own(case_id, actor=user), locale)
    shared = await complaints.patterns(case_id, actor=user)
    free = await evidence.metadata_free_copies(case_id, [e.id for e in items])
    found = EvidencePage(
        groups=by_member(on_page, items, left=last),
        total=total,
        members_with=sum(1 for u in counts if u in member_ids),
        thumbnails=frozenset(e.id for e in items if e.id in free),
        chain=chain,
        patterns=shared.items,
        members_total=shared.members_total,
        locale=locale,
        to_remind=len(notifications.without_evidence(members, set(counts), user.id)),
        reminder=await notifications.last_evidence_reminder(case_id, actor=user),
        now=datetime.now(UTC),
        paging=paging,
    )
    return await page(
        request,
        "organize/evidence.html",
        status=status,
        case=await cases.summary(case_id),
        organize_section="evidence",
        ev=found,
        **context,
    )


@post("/cases/{case_id:int}/organize/evidence/remind", guards=[requires_login], opt={"rule": "organizer"})
async def remind_evidence(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """Remind the members who have no evidence yet to upload some
    (``notifications.remind_evidence``); a second reminder within a day, or no one left to
    remind, is said in words on the page."""
    try:
        sent = await notifications.remind_evidence(case_id, actor=user)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        reason = domain_errors(exc, request_locale(request, user)).get("", "")
        return await _evidence_page(request, case_id, user, settings, status=exc.status, remind_error=reason)
    return redirect(
        request,
        f"/cases/{case_id}/organize/evidence#remind",
        flash="page.organize.evidence.remind.sent",
        flash_params={"n": sent.members},
    )


def page_routers() -> list[Router]:
    return [page_router(members_page, promote, members_csv, evidence_page, remind_evidence)]
