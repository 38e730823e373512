"""The organizer console's filings page (``/cases/{id}/organize/filings``): file the latest
complaint version with a regulator after a confirmation that says in words what goes where, and
follow each filing (status, reference, deadline and the next step when it is overdue, the timeline
of who said what), record an update by hand, withdraw a filing.

Organizers of the case only: each route says so (``opt={"rule": "organizer"}``) and every read is
:func:`chorus.filings.service.console`, which refuses anyone else; the writes are the API's use
cases with the caller as ``actor`` (``create`` as createFiling, ``add_event`` as addFilingEvent;
a withdrawal is an update to ``withdrawn`` with its reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.errors import DomainError, NotFound
from chorus.filings import quarantine_pages, service
from chorus.filings.schemas import (
    FilingConsole,
    FilingCreate,
    FilingEventCreate,
    FilingEventRead,
    FilingPlan,
    FilingRead,
)
from chorus.filings.status import MAIN_LINE, FilingStatus, is_end
from chorus.i18n import join_list, t
from chorus.settings import get_settings
from chorus.web.guards import requires_login
from chorus.web.pages import (
    FormData,
    domain_errors,
    is_htmx,
    page,
    page_router,
    parse_form,
    redirect,
    refusal,
    request_locale,
)

# The order statuses are offered in: along the main line, the detour, then the ends.
_FIRST = (*MAIN_LINE, FilingStatus.needs_info, FilingStatus.rejected, FilingStatus.closed)
_ORDER = (*_FIRST, *(s for s in FilingStatus if s not in _FIRST))
# What the worker notes on a filing (filings.submit), "<code>" or "<code>:<detail>", said in words
# (page.filings.worker.<code>); any other note is shown as it is.
WORKER_NOTES = frozenset(
    {
        "sent",
        "retry",
        "gave_up_after",
        "credentials_missing",
        "credentials_refused",
        "address_blocked",
        "refused",
        "authorizations_withheld",
    }
)


def base(case_id: int) -> str:
    return f"/cases/{case_id}/organize/filings"


def offered(f: FilingRead) -> list[FilingStatus]:
    """The statuses the update form offers: what the status machine allows an organizer next,
    in reading order; withdrawing has its own form, which says what it means."""
    allowed = set(f.next_statuses) - {FilingStatus.withdrawn}
    return [s for s in _ORDER if s in allowed]


@dataclass(frozen=True)
class Entry:
    """One line of a filing's timeline: the event, whether it changed the status, a worker's note
    in words (catalog key and detail) when it is one of the worker's codes, and for a reply read
    into a proposed status the organizer's event that answered it (None: not answered yet); the
    reference when this event gave it first or changed it (the same one again is not repeated)."""

    event: FilingEventRead
    moved: bool
    worker_key: str | None
    worker_detail: str
    answered_by: FilingEventRead | None = None
    new_reference: str | None = None


def timeline(f: FilingRead) -> list[Entry]:
    """A filing's events newest first, each marked as a status change or not."""
    answers = {e.confirms_event_id: e for e in f.events if e.confirms_event_id is not None}
    out: list[Entry] = []
    previous: FilingStatus | None = None
    for e, given in zip(f.events, f.references_given(), strict=True):
        key, detail = None, ""
        if e.source == "worker" and e.note:
            code, _, detail = e.note.partition(":")
            key = f"page.filings.worker.{code}" if code in WORKER_NOTES else None
            detail = detail if key else ""
        answered = answers.get(e.id) if e.id is not None and e.proposed_status is not None else None
        out.append(Entry(e, e.status != previous, key, detail, answered, given))
        previous = e.status
    return out[::-1]


def corrections(f: FilingRead, proposed: FilingStatus) -> list[FilingStatus]:
    """What an organizer may record instead of a proposed status: the statuses the filing may
    take next, the proposed one apart (it is the form's first choice)."""
    return [s for s in offered(f) if s != proposed]


def _plan_of(found: FilingConsole, complaint_id: int) -> FilingPlan | None:
    return next((p for p in found.plans if p.complaint_id == complaint_id), None)


def _filing_of(found: FilingConsole, filing_id: int) -> FilingRead:
    """A filing of this case (or of a case folded into it); 404 for any other."""
    f = next((f for f in found.filings if f.id == filing_id), None)
    if f is None:
        raise NotFound("filing_not_found")
    return f


def _context(found: FilingConsole) -> dict[str, Any]:
    return {
        "case": found.case,
        "organize_section": "filings",
        "console": found,
        "offered": offered,
        "corrections": corrections,
        "timeline": timeline,
        "is_end": is_end,
        "refresh_seconds": get_settings().live_refresh_seconds,  # htmx; without JS, the reload link
    }


async def _filings_page(
    request: Request[Any, Any, Any], found: FilingConsole, *, status: int = 200, **context: Any
) -> Template:
    return await page(request, "organize/filings.html", status=status, **_context(found), **context)


@get(
    "/cases/{case_id:int}/organize/filings",
    guards=[requires_login],
    opt={"rule": "organizer"},
    name="organize_filings",
)
async def filings_page(
    request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template:
    """What can be filed now (each regulator's latest version) and every filing with its news."""
    return await _filings_page(request, await service.console(case_id, actor=user))


@get("/cases/{case_id:int}/organize/filings/confirm", guards=[requires_login], opt={"rule": "organizer"})
async def confirm_page(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    user: NamedDependency[UserRead],
    complaint_id: FromQuery[int] = 0,
) -> Template | Redirect:
    """The confirmation: which version goes to which regulator by which channel, with how many
    members, evidence items and what total loss. A version that is not the latest any more sends
    the organizer back to the list, which shows the latest."""
    found = await service.console(case_id, actor=user)
    plan = _plan_of(found, complaint_id)
    if plan is None:
        return redirect(request, base(case_id), flash="page.filings.flash.not_latest")
    return await page(request, "organize/filings_confirm.html", **_context(found), plan=plan)


def _form_id(data: FormData, name: str) -> int:
    value = str(data.get(name, ""))
    return int(value) if value.isdigit() and len(value) <= 12 else 0


@post("/cases/{case_id:int}/organize/filings", guards=[requires_login], opt={"rule": "organizer"})
async def file_complaint(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """File (createFiling's use case): queued, and the worker sends it by the regulator's channel.
    A refusal comes back on the confirmation in words (409: a live filing with this regulator,
    consent withdrawn, a newer version, …) and nothing is written."""
    found = await service.console(case_id, actor=user)  # organizers only, before reading the form
    plan = _plan_of(found, _form_id(data, "complaint_id"))
    try:
        queued = await service.create(case_id=case_id, actor=user, data=parse_form(FilingCreate, data))
    except (ValidationError, DomainError) as exc:
        locale = request_locale(request, user)
        if isinstance(exc, ValidationError):
            errors, status = {"": t("page.filings.confirm.gone", locale)}, 422
        else:
            errors, status = {"": " ".join(domain_errors(exc, locale).values())}, exc.status
        found = await service.console(case_id, actor=user)  # as it is now (a refusal wrote nothing)
        return await page(
            request,
            "organize/filings_confirm.html",
            status=status,
            errors=errors,
            **_context(found),
            plan=_plan_of(found, _form_id(data, "complaint_id")),
        )
    manual = plan is not None and plan.regulator.channel == "manual"
    flash = "page.filings.flash.recorded_manual" if manual else "page.filings.flash.queued"
    return redirect(request, f"{base(case_id)}#filing-{queued.id}", flash=flash)


@get(
    "/cases/{case_id:int}/organize/filings/{filing_id:int}/live",
    guards=[requires_login],
    opt={"rule": "organizer"},
)
async def live_part(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    filing_id: FromPath[int],
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """One filing's status, deadline and timeline as they are now: the part htmx swaps in every
    30 seconds. Without htmx: the page at that filing."""
    found = await service.console(case_id, actor=user)
    f = _filing_of(found, filing_id)
    if not is_htmx(request):
        return Redirect(path=f"{base(case_id)}#filing-{filing_id}", status_code=303)
    return await page(request, "organize/filings_live.html", **_context(found), f=f)


def _proposed(f: FilingRead, event_id: int) -> str:
    """The status the filing's event ``event_id`` proposed ("" if none)."""
    found = next((e for e in f.events if e.id == event_id and e.proposed_status), None)
    return found.proposed_status.value if found and found.proposed_status else ""


def _refusal(
    exc: ValidationError | DomainError, f: FilingRead, requested: str, locale: str
) -> tuple[dict[str, str], int]:
    """A refused update in words, next to its field (:func:`chorus.web.pages.refusal`); an
    invalid move says where the filing stands and which statuses it may take."""
    errors, status = refusal(exc, locale)
    if isinstance(exc, DomainError) and exc.code == "filing_transition_invalid":

        def words(status: str) -> str:
            return t(f"page.status.filing.{status}", locale)

        allowed = join_list((words(s.value) for s in offered(f)), locale)
        errors["status"] = t(
            "page.filings.update.transition_invalid" if allowed else "page.filings.update.transition_ended",
            locale,
            current=words(exc.params.get("current", f.status.value)),
            requested=words(requested),
            allowed=allowed,
        )
    return errors, status


async def _update(
    request: Request[Any, Any, Any],
    case_id: int,
    filing_id: int,
    data: FormData,
    user: UserRead,
    *,
    form: str,
    flash: str,
) -> Template | Redirect:
    """Record an update (addFilingEvent's use case) from the update or the withdraw form; the
    page again with the errors next to that form's fields when refused (nothing is written)."""
    found = await service.console(case_id, actor=user)
    f = _filing_of(found, filing_id)
    fields: dict[str, Any] = dict(data)
    if form == "withdraw":
        fields = {"note": data.get("note", ""), "status": FilingStatus.withdrawn.value}
    # the form of a reply's proposed status answers it (confirms_event_id): its errors go there
    answering = _form_id(data, "confirms_event_id") if form == "update" else 0
    try:
        change = parse_form(FilingEventCreate, fields)
        await service.add_event(filing_id=filing_id, actor=user, data=change)
    except (ValidationError, DomainError) as exc:
        requested = str(fields.get("status", "")) or _proposed(f, answering)
        errors, status = _refusal(exc, f, requested, request_locale(request, user))
        return await _filings_page(
            request,
            found,
            status=status,
            errors=errors,
            values={k: v for k, v in data.items() if k != "_csrf_token"},
            failed=f"proposal-{answering}" if answering else f"{form}-{filing_id}",
        )
    return redirect(request, f"{base(case_id)}#filing-{filing_id}", flash=flash)


@post(
    "/cases/{case_id:int}/organize/filings/{filing_id:int}/events",
    guards=[requires_login],
    opt={"rule": "organizer"},
)
async def record_update(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    filing_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """A manual update: a note, and maybe a new status (one the status machine allows) and the
    regulator's reference number."""
    return await _update(
        request, case_id, filing_id, data, user, form="update", flash="page.filings.flash.updated"
    )


@post(
    "/cases/{case_id:int}/organize/filings/{filing_id:int}/withdraw",
    guards=[requires_login],
    opt={"rule": "organizer"},
)
async def withdraw(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    filing_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """Withdraw a filing: it ends (``withdrawn``) with the organizer's reason, members are told,
    and the regulator may be filed with again. Chorus does not tell the regulator (protocol v1 has
    no withdrawal): the form says so."""
    return await _update(
        request, case_id, filing_id, data, user, form="withdraw", flash="page.filings.flash.withdrawn"
    )


def page_routers() -> list[Router]:
    return [
        page_router(filings_page, confirm_page, file_complaint, live_part, record_update, withdraw),
        *quarantine_pages.page_routers(),  # the admins' quarantine of inbound mail
    ]
