"""A member's evidence on the case page (``templates/pages/evidence/_section.html``, included by
``cases/case.html`` with :func:`section`): upload (several files, drag-and-drop, the phone's
camera; ``static/js/evidence.js`` sends each file to ``POST /api/v1/cases/{id}/evidence`` with a
progress bar, and without JavaScript the form posts here), my evidence (view, withdraw) and the
check of the case's hash chain.

Every part calls the evidence service the API calls, with the caller as ``actor``: the list is
``list_for`` (the member's own items only are shown), uploads stream through ``upload`` exactly as
the API's do (never held in memory), withdrawal is ``withdraw``, the check is ``verify``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from chorus.accounts.schemas import UserRead
from chorus.cases import service as cases
from chorus.errors import Conflict, Invalid, StorageUnavailable, TooLarge, UnsupportedType
from chorus.evidence import extraction, service, sniff
from chorus.evidence.schemas import ChainVerification, EvidenceRead, ExtractionRead
from chorus.i18n import join_list, t
from chorus.settings import Settings
from chorus.web.guards import requires_login
from chorus.web.multipart import StreamedForm, file_parts
from chorus.web.pages import Formats, FormData, is_htmx, page, page_router, redirect, request_locale

# Files one form sent without JavaScript may carry (evidence.js sends each file on its own).
MAX_FILES = 20
SHA_SHOWN = 12  # hex digits of a SHA-256 shown in the list (all of it on hover and in the chain)
# What a browser shows in an <img>: the list's thumbnails (other types get a label).
THUMBNAIL_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
# The accepted types in the order people look for them (any other allowed type follows).
_TYPE_ORDER = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/pdf",
    "text/plain",
    "application/zip",
    "audio/mpeg",
    "audio/mp4",
    "video/mp4",
)
# Names the file pickers go by as well: a JPEG is often .jpeg; a chat export saved as HTML is
# text to the sniffer (stored as text/plain, never served as HTML).
_MORE_ACCEPTED = ("text/html", ".jpeg", ".html", ".htm")
# Problem codes of the upload API → this page's words (``page.evidence.error.*``), else errors.<code>.
_OWN_WORDS = {
    "evidence_too_large": "page.evidence.error.too_large",
    "evidence_type": "page.evidence.error.type",
    "evidence_kind": "page.evidence.error.kind",
    "file_required": "page.evidence.error.no_file",
    "empty_file": "page.evidence.error.empty",
    "evidence_batch_too_large": "page.evidence.error.batch_too_large",
    "not_authenticated": "page.evidence.error.signed_out",
    "csrf": "page.error.403.csrf",
    "rate_limited": "page.error.429",
}
_API_CODES = (
    "evidence_zip",
    "evidence_visibility",
    "description_too_long",
    "one_file_only",
    "field_too_long",
    "malformed_form",
    "multipart_required",
    "not_a_member",
    "case_not_found",
    "storage_unavailable",
)
_CHAIN_REASONS = ("hash_mismatch", "content_mismatch", "missing_blob", "index_gap")


# --- what the section shows -----------------------------------------------------------------------


def accepted_types() -> list[sniff.SniffResult]:
    """The types the upload API accepts (:data:`chorus.evidence.sniff.ALLOWED`), most wanted first."""

    def rank(r: sniff.SniffResult) -> tuple[int, str]:
        order = _TYPE_ORDER.index(r.media_type) if r.media_type in _TYPE_ORDER else len(_TYPE_ORDER)
        return order, r.media_type

    return sorted(sniff.ALLOWED, key=rank)


def size_text(n: int, locale: str) -> str:
    """A file size as people read it: ``820 KB``, ``1.4 MB`` (in the locale's digits)."""
    number = Formats(locale).number
    if n < 1024:
        return t("page.evidence.size.bytes", locale, n=number(n))
    if n < 1024 * 1024:
        return t("page.evidence.size.kb", locale, n=number(round(n / 1024)))
    return t("page.evidence.size.mb", locale, n=number(round(n / (1024 * 1024), 1)))


@dataclass(frozen=True)
class UploadRules:
    """The upload API's limits, said before anyone chooses a file."""

    max_bytes: int
    max_size: str  # "25 MB"
    type_names: str  # "JPG、PNG、WEBP …"
    accept: str  # the file input's accept attribute
    photo_accept: str  # the camera input's


def upload_rules(settings: Settings, locale: str) -> UploadRules:
    types = accepted_types()
    names = join_list((r.extension.upper() for r in types), locale)
    accept = [r.media_type for r in types] + [f".{r.extension}" for r in types] + list(_MORE_ACCEPTED)
    photos = [r.media_type for r in types if r.media_type in THUMBNAIL_TYPES]
    return UploadRules(
        max_bytes=settings.upload_max_bytes,
        max_size=size_text(settings.upload_max_bytes, locale),
        type_names=names,
        accept=",".join(accept),
        photo_accept=",".join(photos),
    )


def problem_text(code: str, locale: str, rules: UploadRules) -> str:
    """The words for an upload refusal (the API's problem ``code``)."""
    key = _OWN_WORDS.get(code, f"errors.{code}")
    return t(key, locale, limit=rules.max_size, types=rules.type_names)


def messages(locale: str, rules: UploadRules) -> dict[str, str]:
    """What evidence.js says: each problem code of the upload API, the HTTP statuses it may meet
    without one (``status.413`` …), and the states of a file in the queue."""
    out = {code: problem_text(code, locale, rules) for code in (*_OWN_WORDS, *_API_CODES)}
    for status in (400, 403, 404, 409, 413, 415, 422, 429, 500, 503, 507):
        out[f"status.{status}"] = t(f"page.error.{status}", locale)
    out["status.413"] = problem_text("evidence_too_large", locale, rules)
    out["status.415"] = problem_text("evidence_type", locale, rules)
    for state in ("queued", "sending", "done", "duplicate", "failed", "network", "retry", "remove"):
        out[f"js.{state}"] = t(f"page.evidence.js.{state}", locale, reason="{reason}")
    for unit in ("bytes", "kb", "mb"):
        out[f"size.{unit}"] = t(f"page.evidence.size.{unit}", locale, n="{n}")
    return out


@dataclass(frozen=True)
class Outcome:
    """One file of a form sent without JavaScript: stored (``ok``), or why not."""

    filename: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class ChainCheck:
    """The chain check in words: the verdict, and a line per entry that failed."""

    ok: bool
    summary: str
    problems: list[str]


def chain_check(result: ChainVerification, mine: list[EvidenceRead], locale: str) -> ChainCheck:
    """Words for :func:`chorus.evidence.service.verify`'s answer. An entry of the member's own
    evidence is named by its file; others' entries only by their number (no one else's files)."""
    own = {e.chain_index: e for e in mine}
    lines = []
    for p in result.problems:
        reason = p.reason if p.reason in _CHAIN_REASONS else "other"
        text = t(f"page.evidence.chain.reason.{reason}", locale)
        item = own.get(p.index)
        if item is not None:
            name = item.filename or t("page.evidence.unnamed", locale, n=item.id)
            lines.append(t("page.evidence.chain.problem_mine", locale, n=p.index + 1, name=name, reason=text))
        else:
            lines.append(t("page.evidence.chain.problem", locale, n=p.index + 1, reason=text))
    number = Formats(locale).number
    if result.ok:
        key = "page.evidence.chain.ok" if result.entries else "page.evidence.chain.empty"
        summary = t(key, locale, n=number(result.entries))
    else:
        summary = t(
            "page.evidence.chain.failed",
            locale,
            n=number(result.entries),
            bad=number(len({p.index for p in result.problems})),
        )
    return ChainCheck(ok=result.ok, summary=summary, problems=lines)


@dataclass
class Section:
    """What ``evidence/_section.html`` shows one member of one case."""

    case_id: int
    locale: str
    items: list[EvidenceRead]  # the member's own, not withdrawn, newest first
    rules: UploadRules
    kinds: list[tuple[str, str]]
    visibilities: list[tuple[str, str]]
    messages: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)  # the upload form as it was sent
    errors: dict[str, str] = field(default_factory=dict)  # the upload form's refused fields
    outcomes: list[Outcome] = field(default_factory=list)  # the files of a form sent without JS
    chain: ChainCheck | None = None
    withdraw_error: tuple[int, str] | None = None  # (evidence id, why it stays)
    # what was read from each of my images and chat exports: suggestions to accept or reject
    suggestions: dict[int, ExtractionRead] = field(default_factory=dict)
    field_error: tuple[int, str] | None = None  # (field id, why it was not accepted)

    @property
    def upload_failed(self) -> bool:
        return bool(self.errors) or any(not o.ok for o in self.outcomes)

    def size(self, n: int) -> str:
        return size_text(n, self.locale)

    def short(self, sha256: str) -> str:
        return sha256[:SHA_SHOWN]

    def thumbnail(self, item: EvidenceRead) -> bool:
        return item.media_type in THUMBNAIL_TYPES

    def type_label(self, item: EvidenceRead) -> str:
        """``PDF``, ``MP4`` …: what stands where an image has its thumbnail."""
        return next((r.extension.upper() for r in sniff.ALLOWED if r.media_type == item.media_type), "")

    def name(self, item: EvidenceRead) -> str:
        return item.filename or t("page.evidence.unnamed", self.locale, n=item.id)

    def percent(self, confidence: float) -> int:
        return round(confidence * 100)


async def section(
    request: Request[Any, Any, Any],
    case_id: int,
    user: UserRead,
    *,
    own: list[EvidenceRead] | None = None,
    **state: Any,
) -> Section:
    """The evidence section of ``case_id`` for ``user`` (a member: ``list_own`` refuses anyone
    else). ``own``: the case page's own ``list_own`` answer, so it is not read twice."""
    items = own if own is not None else await service.list_own(case_id, actor=user)
    settings: Settings = request.app.state["settings"]
    locale = request_locale(request, user)
    rules = upload_rules(settings, locale)
    mine = [e for e in reversed(items) if e.uploaded_by_me and not e.withdrawn]
    read = await extraction.read_own([e.id for e in mine if extraction.is_read(e.media_type)], actor=user)
    return Section(
        case_id=case_id,
        locale=locale,
        items=mine,
        suggestions=read,
        rules=rules,
        kinds=[(k, t(f"complaint.evidence_kind.{k}", locale)) for k in service.KINDS],
        visibilities=[(v, t(f"page.evidence.visibility.{v}", locale)) for v in ("organizers", "members")],
        messages=messages(locale, rules),
        **state,
    )


async def _page(
    request: Request[Any, Any, Any], case_id: int, user: UserRead, *, status: int = 200, **state: Any
) -> Template:
    """The evidence page: the section on a page of its own (what a form without JavaScript
    comes back to), or for htmx only the part it asked for."""
    summary = await cases.summary(case_id)
    found = await section(request, case_id, user, **state)
    return await page(request, "evidence/page.html", status=status, case=summary, evidence_section=found)


# --- pages -------------------------------------------------------------------------------------------


@get("/cases/{case_id:int}/evidence", guards=[requires_login], opt={"rule": "member"}, name="evidence")
async def evidence_page(
    request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template:
    """My evidence in this case; for htmx (after uploads) the list alone."""
    if is_htmx(request):
        found = await section(request, case_id, user)
        return await page(request, "evidence/_list.html", evidence_section=found)
    return await _page(request, case_id, user)


@get("/cases/{case_id:int}/evidence/verify", guards=[requires_login], opt={"rule": "member"})
async def verify_chain(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template:
    """Recompute the case's chain from the stored bytes; the verdict in words (for htmx only
    the verdict)."""
    result = await service.verify(case_id, actor=user, settings=settings)
    mine = await service.list_own(case_id, actor=user)
    check = chain_check(result, mine, request_locale(request, user))
    if is_htmx(request):
        return await page(request, "evidence/_chain.html", chain=check)
    return await _page(request, case_id, user, chain=check)


class _FormTooLarge(Exception):
    """The form carries more than :data:`MAX_FILES` files at the size limit could: it is read
    no further (each file's own limit is the evidence service's)."""


async def _bounded(stream: AsyncIterator[bytes], cap: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > cap:
            raise _FormTooLarge()
        yield chunk


def _meta_of(fields: dict[str, str], filename: str, content_type: str) -> Callable[[], service.UploadMeta]:
    return lambda: service.check_meta(fields, filename, content_type)


@post(
    "/cases/{case_id:int}/evidence",
    guards=[requires_login],
    opt={"rule": "member"},
    request_max_body_size=None,  # each file bounded while streaming, the form by _bounded
)
async def upload(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """The upload form without JavaScript (multipart; the CSRF token in the action's query):
    each file streamed through the API's use case in turn. All stored: back to my evidence with
    a notice; otherwise the form again saying which files were stored and why others were not."""
    locale = request_locale(request, user)
    rules = upload_rules(settings, locale)
    cap = settings.upload_max_bytes * MAX_FILES + 1024 * 1024
    media_type, options = request.content_type
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise Invalid("multipart_required", field="file")
    form = StreamedForm()
    outcomes: list[Outcome] = []
    errors: dict[str, str] = {}
    status: int | None = None  # the first refusal's
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    try:
        if declared > cap:
            raise _FormTooLarge()
        parts = file_parts(
            _bounded(request.stream(), cap), boundary.encode(), form, max_segments=MAX_FILES + 8
        )
        async with aclosing(parts):
            async for part, chunks in parts:
                if not part.filename:
                    continue  # a file input left empty (the camera's, say) sends a nameless part
                meta_after = _meta_of(form.fields, part.filename, part.content_type)
                if not outcomes:
                    meta_after()  # the fields precede the files: a bad kind is refused before any file
                try:
                    await service.upload(
                        case_id=case_id, actor=user, settings=settings, chunks=chunks, meta_after=meta_after
                    )
                except (TooLarge, UnsupportedType, Invalid, StorageUnavailable) as exc:
                    if isinstance(exc, Invalid) and exc.errors and exc.errors[0].field != "file":
                        raise
                    why = problem_text(exc.code, locale, rules)
                    outcomes.append(Outcome(part.filename, ok=False, message=why))
                    status = status or exc.status
                    continue
                outcomes.append(Outcome(part.filename, ok=True))
    except _FormTooLarge:  # no file of it is read any further (those before it are kept)
        errors[""], status = problem_text("evidence_batch_too_large", locale, rules), 413
    except Invalid as exc:  # a field of the form (kind, description, visibility)
        for e in exc.errors or []:
            errors.setdefault(e.field or "", problem_text(e.code, locale, rules))
        errors.setdefault("", t("page.form.fix_below", locale))
    if not outcomes and not errors:
        errors["file"] = problem_text("file_required", locale, rules)
    if outcomes and not errors and all(o.ok for o in outcomes):
        return redirect(
            request,
            f"/cases/{case_id}/evidence",
            flash="page.evidence.flash.uploaded",
            flash_params={"n": len(outcomes)},
        )
    values = {k: v for k, v in form.fields.items() if k in ("kind", "description", "visibility")}
    return await _page(
        request, case_id, user, status=status or 422, values=values, errors=errors, outcomes=outcomes
    )


@post(
    "/cases/{case_id:int}/evidence/{evidence_id:int}/withdraw",
    guards=[requires_login],
    opt={"rule": "uploader"},
)
async def withdraw(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    evidence_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """Withdraw one of my files (the form asked to confirm first); what a filed complaint cites
    stays, and the page says so (409)."""
    try:
        await service.withdraw(evidence_id, actor=user, settings=settings)
    except Conflict as exc:
        reason = t(f"errors.{exc.code}", request_locale(request, user))
        return await _page(request, case_id, user, status=exc.status, withdraw_error=(evidence_id, reason))
    return redirect(request, f"/cases/{case_id}/evidence", flash="page.evidence.flash.withdrawn")


@post(
    "/cases/{case_id:int}/evidence/{evidence_id:int}/fields/{field_id:int}",
    guards=[requires_login],
    opt={"rule": "uploader"},
)
async def decide_field(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    evidence_id: FromPath[int],
    field_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """Accept or reject one suggestion read from my file (``decision``: accept | reject); why one
    could not be accepted is said next to it."""
    decision = str(data.get("decision", ""))
    if decision not in ("accept", "reject"):
        raise Invalid("decision_invalid", field="decision")
    try:
        await extraction.decide(evidence_id, field_id, actor=user, accept=decision == "accept")
    except (Conflict, Invalid) as exc:
        reason = t(f"errors.{exc.code}", request_locale(request, user))
        return await _page(request, case_id, user, status=exc.status, field_error=(field_id, reason))
    return redirect(request, f"/cases/{case_id}/evidence", flash=f"page.extraction.flash.{decision}")


def page_routers() -> list[Router]:
    return [page_router(evidence_page, verify_chain, upload, withdraw, decide_field)]


__all__ = ["Section", "page_routers", "section"]
