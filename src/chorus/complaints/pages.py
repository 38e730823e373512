"""The organizer console's complaint versions (``/cases/{id}/organize/complaints``): the versions
with who agreed to each, building a new one for a regulator of the registry, one version's text
in the console's layout with its consents, the reminder to the others and the downloads, and
the changes against an earlier version.

Organizers of the case only: each route says so (``opt={"rule": "organizer"}``) and every read
or write is the service the API calls with the caller as ``actor`` (``cases.members`` and the
complaint services refuse anyone else), so the console shows exactly what the API shows them.
A version of another case is a 404 here, as an unknown one is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.cases import service as cases
from chorus.cases.schemas import MemberRead
from chorus.complaints import cache, service
from chorus.complaints.schemas import ComplaintBrief, ComplaintCreate, ComplaintRead
from chorus.errors import DomainError, NotFound
from chorus.i18n import t
from chorus.markdown import PlainLine, plain_line
from chorus.notifications import service as notifications
from chorus.notifications.schemas import ConsentReminder
from chorus.regulators import service as regulators
from chorus.settings import Settings
from chorus.web.guards import requires_login
from chorus.web.pages import (
    FormData,
    domain_errors,
    form_error,
    page,
    page_router,
    parse_form,
    redirect,
    request_locale,
)

LIST_TEMPLATE = "organize/complaints.html"
VERSION_TEMPLATE = "organize/complaints_version.html"
DIFF_TEMPLATE = "organize/complaints_diff.html"
MAX_DIFF_LINES = 4000  # a diff longer than this is cut (the printable pages stay whole)


# --- versions and who agreed to them ---------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    brief: ComplaintBrief
    consents: int  # members who agreed to this exact version
    latest: bool  # the latest version for its regulator (the one members are asked to agree to)


@dataclass(frozen=True)
class Versions:
    """What the list shows: every version newest first, and the members' consents."""

    items: list[Version]
    members: int
    consenting: int  # members who agreed to be named (to any version, or before any): named by a build

    @property
    def latest(self) -> list[Version]:
        """The latest version for each regulator, newest first."""
        return [v for v in self.items if v.latest]


@dataclass(frozen=True)
class Consents:
    """One version's members: agreed to it, agreed to another version (None: before any text, or
    a version of a case merged into this one), not agreed."""

    agreed: list[MemberRead]
    other: list[tuple[MemberRead, ComplaintBrief | None]]
    none: list[MemberRead]

    @property
    def total(self) -> int:
        return len(self.agreed) + len(self.other) + len(self.none)


def consents_of(
    version: ComplaintBrief, members: list[MemberRead], versions: dict[int, ComplaintBrief]
) -> Consents:
    """``other``: each with the newest version they agreed to (of this regulator if any, else of
    another one; None: before any text, or to a version of a case merged into this one)."""
    agreed = [m for m in members if m.agreed_to(version.id)]
    other = [
        (m, _nearest(version, m.consented_complaint_ids, versions))
        for m in members
        if m.consented_at is not None and not m.agreed_to(version.id)
    ]
    none = [m for m in members if m.consented_at is None]
    return Consents(agreed, other, none)


def _nearest(
    version: ComplaintBrief, agreed: list[int], versions: dict[int, ComplaintBrief]
) -> ComplaintBrief | None:
    """The newest version agreed to of this version's regulator, else of any (``versions``:
    newest first)."""
    same = service.newest_agreed(versions.values(), agreed, version.regulator.id)
    return same or next((v for v in versions.values() if v.id in agreed), None)


async def versions_of(case_id: int, user: UserRead) -> tuple[Versions, list[MemberRead]]:
    members = (await cases.members(case_id, actor=user)).items  # organizers only: 403 first
    briefs = (await service.list_for(case_id, actor=user)).items
    counts: dict[int, int] = {}
    for m in members:
        for i in m.consented_complaint_ids:
            counts[i] = counts.get(i, 0) + 1
    consenting = sum(1 for m in members if m.consented_at is not None)
    latest = {v.id for v in service.latest_versions(briefs)}
    items = [Version(b, counts.get(b.id, 0), b.id in latest) for b in briefs]
    return Versions(items, len(members), consenting), members


async def _regulator_choices() -> list[tuple[str, str]]:
    """The registry's active regulators for the build form's select: (id, "name (jurisdiction)")."""
    return [(str(r.id), f"{r.name} · {r.jurisdiction}") for r in await regulators.list_active()]


async def _list_page(
    request: Request[Any, Any, Any], case_id: int, user: UserRead, *, status: int = 200, **context: Any
) -> Template:
    found, _ = await versions_of(case_id, user)
    choices = await _regulator_choices()
    context.setdefault("values", {"regulator_id": choices[0][0]} if choices else {})
    return await page(
        request,
        LIST_TEMPLATE,
        status=status,
        case=await cases.summary(case_id),
        organize_section="complaints",
        versions=found,
        regulators=choices,
        **context,
    )


@get(
    "/cases/{case_id:int}/organize/complaints",
    guards=[requires_login],
    opt={"rule": "organizer"},
    name="organize_complaints",
)
async def complaints_page(
    request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template:
    """The versions (number, regulator, built, draft or filed, consents to it) and the build form."""
    return await _list_page(request, case_id, user)


@post("/cases/{case_id:int}/organize/complaints", guards=[requires_login], opt={"rule": "organizer"})
async def build(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """Build a new version for the chosen regulator (``complaints.service.build``, as
    ``buildComplaint``) and show it; a refusal (no one agreed yet, an unknown regulator) comes
    back on the form with nothing built."""
    try:  # the regulator is the form's one field (the API's narrative and demands keep their defaults)
        choice = parse_form(ComplaintCreate, {"regulator_id": data.get("regulator_id", "")})
        built = await service.build(case_id=case_id, actor=user, data=choice, settings=settings)
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status == 403:
            raise  # not an organizer of this case: the error page, not the form
        return await _form_error(request, case_id, user, exc, data)
    return redirect(
        request,
        f"/cases/{case_id}/organize/complaints/{built.id}",
        flash="page.complaints.flash.built",
        flash_params={"n": built.version},
    )


async def _form_error(
    request: Request[Any, Any, Any],
    case_id: int,
    user: UserRead,
    exc: ValidationError | DomainError,
    data: FormData,
) -> Template:
    found, _ = await versions_of(case_id, user)
    return await form_error(
        request,
        LIST_TEMPLATE,
        exc,
        values=data,
        case=await cases.summary(case_id),
        organize_section="complaints",
        versions=found,
        regulators=await _regulator_choices(),
    )


# --- one version ------------------------------------------------------------------------------------


async def _version_of_case(complaint_id: int, case_id: int, user: UserRead) -> ComplaintRead:
    version = await service.get_or_raise(complaint_id, actor=user)
    if version.case_id != case_id:
        raise NotFound("complaint_not_found")
    return version


def previous_of(
    version: ComplaintBrief | ComplaintRead, briefs: list[ComplaintBrief]
) -> ComplaintBrief | None:
    """The version to compare with: the one before it for the same regulator, else the case's
    version built just before it."""
    older = [b for b in briefs if b.id < version.id]
    same = [b for b in older if b.regulator.id == version.regulator.id]
    pool = same or older
    return max(pool, key=lambda b: b.id) if pool else None


def scrollable_tables(html: str, label: str) -> Markup:
    """Each table of the sanitized text inside a region that scrolls sideways on a phone and
    takes the keyboard's focus (the sanitizer leaves ``<table>`` without attributes)."""
    region = str(Markup('<div class="cv-scroll" role="region" tabindex="0" aria-label="{}">').format(label))
    text = str(html).replace("<table>", region + "<table>").replace("</table>", "</table></div>")
    return Markup(text)  # noqa: S704 - the sanitized text, and our own markup around its tables


@dataclass(frozen=True)
class VersionPage:
    version: ComplaintRead
    newest: ComplaintBrief  # the latest version for its regulator (the one members are asked to agree to)
    previous: ComplaintBrief | None
    consents: Consents
    reminder: ConsentReminder | None  # the last one for this version
    to_remind: int  # members the reminder would go to (not agreed to this version, not the caller)
    can_remind: bool  # the latest version, someone to remind, the last reminder a day ago or more
    text_html: Markup | None  # the full text, through chorus.markdown's sanitizer (None: too long)
    toc_html: Markup | None


async def _version_page(
    request: Request[Any, Any, Any],
    case_id: int,
    complaint_id: int,
    user: UserRead,
    *,
    status: int = 200,
    **context: Any,
) -> Template:
    version = await _version_of_case(complaint_id, case_id, user)
    found, members = await versions_of(case_id, user)
    briefs = [v.brief for v in found.items]
    brief = next(b for b in briefs if b.id == version.id)  # this version is one of them
    consents = consents_of(brief, members, {b.id: b for b in briefs})
    locale = request_locale(request, user)
    text_html, toc_html = None, None
    if len(version.markdown) <= cache.INLINE_AT_MOST:  # else a link to its printable page
        body, toc = await cache.document(version.markdown)
        text_html = scrollable_tables(body, t("page.complaints.v.text.table", locale))
        toc_html = Markup(toc)  # noqa: S704 - chorus.markdown's sanitized table of contents
    newest = next(b for b in briefs if b.regulator.id == brief.regulator.id)  # newest first
    reminder = await notifications.last_consent_reminder(version.id, actor=user)
    to_remind = sum(1 for m in members if not m.agreed_to(version.id) and m.user_id != user.id)
    shown = VersionPage(
        version=version,
        newest=newest,
        previous=previous_of(version, briefs),
        consents=consents,
        reminder=reminder,
        to_remind=to_remind,
        can_remind=newest.id == version.id
        and to_remind > 0
        and (reminder is None or datetime.now(UTC) >= reminder.next_at),
        text_html=text_html,
        toc_html=toc_html,
    )
    return await page(
        request,
        VERSION_TEMPLATE,
        status=status,
        case=await cases.summary(case_id),
        organize_section="complaints",
        v=shown,
        **context,
    )


@get(
    "/cases/{case_id:int}/organize/complaints/{complaint_id:int}",
    guards=[requires_login],
    opt={"rule": "organizer"},
)
async def version_page(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    complaint_id: FromPath[int],
    user: NamedDependency[UserRead],
) -> Template:
    """One version: who agreed to this exact text and who has not (the reminder), the printable
    page and the bundle (the API's routes), the link to its changes, and the full text as the
    regulator will read it (``getComplaint``'s organizer view, rendered by chorus.markdown)."""
    return await _version_page(request, case_id, complaint_id, user)


@post(
    "/cases/{case_id:int}/organize/complaints/{complaint_id:int}/remind",
    guards=[requires_login],
    opt={"rule": "organizer"},
)
async def remind(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    complaint_id: FromPath[int],
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """Remind the members who have not agreed to this version (``notifications.remind_consent``);
    a second reminder within a day, an older version or no one left to remind is said in words
    on the version's page."""
    await _version_of_case(complaint_id, case_id, user)
    try:
        sent = await notifications.remind_consent(complaint_id, actor=user)
    except DomainError as exc:
        if exc.status == 403:
            raise
        locale = request_locale(request, user)
        reason = domain_errors(exc, locale).get("", "")
        return await _version_page(
            request, case_id, complaint_id, user, status=exc.status, remind_error=reason
        )
    return redirect(
        request,
        f"/cases/{case_id}/organize/complaints/{complaint_id}#remind",
        flash="page.complaints.flash.reminded",
        flash_params={"n": sent.members},
    )


# --- the changes between two versions --------------------------------------------------------------

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add | del | same
    text: str  # the Markdown line

    @property
    def plain(self) -> PlainLine:
        """The line as a reader of the text sees it (no Markdown marks)."""
        return plain_line(self.text)


@dataclass(frozen=True)
class DiffHunk:
    old_start: int
    new_start: int
    lines: list[DiffLine]


@dataclass(frozen=True)
class Diff:
    hunks: list[DiffHunk]
    added: int
    removed: int
    truncated: bool  # more than ``limit`` lines: the rest is not shown
    limit: int


def parse_diff(unified: str, limit: int = MAX_DIFF_LINES) -> Diff:
    """A unified diff (``complaints.service.diff``) as hunks of added, removed and unchanged lines."""
    hunks: list[DiffHunk] = []
    added = removed = shown = 0
    truncated = False
    for raw in unified.splitlines():
        head = _HUNK.match(raw)
        if head:
            hunks.append(DiffHunk(int(head[1]), int(head[2]), []))
            continue
        if not hunks or raw.startswith("\\"):  # the ---/+++ header; "\ No newline at end of file"
            continue
        kind = {"+": "add", "-": "del"}.get(raw[:1], "same")
        added += kind == "add"
        removed += kind == "del"
        if shown >= limit:
            truncated = True
            continue
        hunks[-1].lines.append(DiffLine(kind, raw[1:]))
        shown += 1
    return Diff([h for h in hunks if h.lines], added, removed, truncated, limit)


@get(
    "/cases/{case_id:int}/organize/complaints/{complaint_id:int}/diff",
    guards=[requires_login],
    opt={"rule": "organizer"},
)
async def diff_page(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    complaint_id: FromPath[int],
    user: NamedDependency[UserRead],
    against: FromQuery[int | None] = None,
) -> Template:
    """What changed from an earlier version (``?against=``; by default the one before it) to this
    one (``diffComplaint``): added and removed lines marked in words, not by colour alone."""
    found, _ = await versions_of(case_id, user)  # organizers only: 403 first
    briefs = [v.brief for v in found.items]
    version = next((b for b in briefs if b.id == complaint_id), None)
    if version is None:
        raise NotFound("complaint_not_found")
    if against is None:
        base = previous_of(version, briefs)
    else:
        base = next((b for b in briefs if b.id == against), None)
    if against is not None and (base is None or base.id == version.id):
        raise NotFound("complaint_not_found", field="against")
    changes = None
    if base is not None:
        changes = parse_diff((await service.diff(version.id, base.id, actor=user)).diff)
    return await page(
        request,
        DIFF_TEMPLATE,
        case=await cases.summary(case_id),
        organize_section="complaints",
        version=version,
        base=base,
        others=[b for b in briefs if b.id != version.id],
        changes=changes,
    )


def page_routers() -> list[Router]:
    return [page_router(complaints_page, build, version_page, remind, diff_page)]
