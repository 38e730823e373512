"""HTTP: evidence upload, listing, download (with ranges), withdrawal, chain verification."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, Router, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from chorus.accounts.schemas import UserRead
from chorus.errors import DomainError, Invalid, NotFound
from chorus.evidence import extraction, service
from chorus.evidence.schemas import (
    ChainVerification,
    EvidenceCreated,
    EvidenceList,
    ExtractedFieldRead,
    ExtractionRead,
)
from chorus.ids import MAX_ID
from chorus.settings import Settings
from chorus.web.guards import requires_login
from chorus.web.multipart import StreamedForm, file_chunks
from chorus.web.problems import documented, problems, raw_bytes

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
    "Accept-Ranges": "bytes",
}


class RangeNotSatisfiable(DomainError):
    status = 416
    code = "range_not_satisfiable"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range → [start, end) or None for the whole file; 416 when unsatisfiable.
    Multiple ranges are answered with the whole file (allowed by RFC 9110)."""
    if not header or "," in header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)) + 1, size) if m.group(2) else size
    else:  # suffix: the last N bytes
        start, end = max(0, size - int(m.group(2))), size
    if start >= size or end <= start:
        raise RangeNotSatisfiable()
    return start, end


class EvidenceController(Controller):
    path = "/api/v1"
    tags = ["evidence"]

    @post(
        "/cases/{case_id:int}/evidence",
        status_code=HTTP_201_CREATED,
        operation_id="uploadEvidence",
        responses=problems(413, 415, 422, 507),  # a multipart body, not a JSON one; 507: store full
        request_max_body_size=None,  # bounded by CHORUS_UPLOAD_MAX_BYTES while streaming
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def upload(
        self,
        case_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> Response[EvidenceCreated]:
        """multipart/form-data: ``file``, ``kind``, ``description?``, ``visibility?``
        (``organizers`` default, or ``members``). Streamed; type sniffed from the bytes."""
        media_type, options = request.content_type
        boundary = options.get("boundary")
        if media_type != "multipart/form-data" or not boundary:
            raise Invalid("multipart_required", field="file")
        form = StreamedForm()

        def meta() -> service.UploadMeta:
            if not form.file_seen:
                raise Invalid("file_required", field="file")
            return service.check_meta(form.fields, form.filename, form.content_type)

        created, new = await service.upload(
            case_id=case_id,
            actor=user,
            settings=settings,
            chunks=file_chunks(request.stream(), boundary.encode(), form),
            meta_after=meta,
        )
        return Response(created, status_code=HTTP_201_CREATED if new else HTTP_200_OK)

    @get(
        "/cases/{case_id:int}/evidence",
        operation_id="listEvidence",
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=EvidenceList, description="Request fulfilled, document follows"
            )
        },
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def list_evidence(
        self,
        case_id: FromPath[int],
        user: NamedDependency[UserRead],
        limit: Annotated[int | None, QueryParameter(ge=1, le=service.LIST_AT_MOST)] = None,
        after: Annotated[int | None, QueryParameter(ge=0, le=MAX_ID)] = None,
    ) -> Response[bytes]:
        """What the caller may see: own uploads, ``members`` evidence, everything for organizers;
        in chain order. All of it, or a page: ``limit`` items after chain index ``after``, and
        ``next_after`` for the next page (null at the end). A long list is encoded in a worker
        thread (``service.IN_THREAD_FROM``): a large case's whole list is tens of megabytes of
        JSON, which would hold up every other request of the process."""
        listed = await service.list_for(case_id, actor=user, limit=limit, after=after)
        encode = EvidenceList.__pydantic_serializer__.to_json
        long = len(listed.items) > service.IN_THREAD_FROM
        return Response(
            await asyncio.to_thread(encode, listed) if long else encode(listed), media_type=MediaType.JSON
        )

    @get(
        "/cases/{case_id:int}/evidence/verify",
        operation_id="verifyEvidenceChain",
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def verify(
        self, case_id: FromPath[int], user: NamedDependency[UserRead], settings: NamedDependency[Settings]
    ) -> ChainVerification:
        """Recompute the case's hash chain from the stored bytes."""
        return await service.verify(case_id, actor=user, settings=settings)

    @get(
        "/evidence/{evidence_id:int}/content",
        operation_id="downloadEvidence",
        responses={
            200: raw_bytes("the evidence file, as an attachment"),
            206: raw_bytes("the requested byte range"),
            **problems(416),
        },
        guards=[requires_login],
        opt={"rule": "member"},  # and organizers-only evidence to organizers (the service's)
    )
    async def content(
        self,
        evidence_id: FromPath[int],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
        range_header: Annotated[str | None, HeaderParameter(name="range", required=False)] = None,
    ) -> Stream:
        """The bytes, as an attachment; single byte ranges for large media."""
        dl = await service.open_for_download(evidence_id, actor=user)
        span = parse_range(range_header, dl.size)
        start, end = span if span else (0, dl.size)
        headers = {
            **DOWNLOAD_HEADERS,
            "Content-Disposition": f'attachment; filename="{dl.filename}"',
            "Content-Length": str(end - start),
        }
        if span:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{dl.size}"
        store = service.storage_for(settings)
        if not await store.exists(dl.sha256):
            raise NotFound("evidence_not_found")  # a live record without bytes: verify reports it
        return Stream(
            store.iter_bytes(dl.sha256, start, end),
            media_type=dl.media_type,
            status_code=206 if span else 200,
            headers=headers,
        )

    @delete(
        "/evidence/{evidence_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="withdrawEvidence",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "uploader"},
    )
    async def withdraw(
        self, evidence_id: FromPath[int], user: NamedDependency[UserRead], settings: NamedDependency[Settings]
    ) -> None:
        """The uploader withdraws their evidence (until a filed complaint cites it)."""
        await service.withdraw(evidence_id, actor=user, settings=settings)


class ExtractionController(Controller):
    """What was read from an image or chat export (issue 19): suggestions its uploader accepts
    or rejects one by one; nothing read is used before that."""

    path = "/api/v1/evidence/{evidence_id:int}/extraction"
    tags = ["evidence"]

    @get(
        "/",
        operation_id="getEvidenceExtraction",
        guards=[requires_login],
        opt={"rule": "member"},  # and organizers-only evidence to organizers (the service's)
    )
    async def read(self, evidence_id: FromPath[int], user: NamedDependency[UserRead]) -> ExtractionRead:
        """``status`` pending | done | failed | unavailable; the text read and the suggested fields,
        to exactly those who may see the evidence."""
        return await extraction.read_for(evidence_id, actor=user)

    @post(
        "/fields/{field_id:int}/accept",
        status_code=HTTP_200_OK,
        operation_id="acceptExtractedField",
        responses=problems(409, 422),
        guards=[requires_login],
        opt={"rule": "uploader"},
    )
    async def accept(
        self, evidence_id: FromPath[int], field_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> ExtractedFieldRead:
        """The uploader accepts a suggestion: a payee account, QQ, WeChat or phone becomes an
        identifier of their report (normalized and matched as a typed one); an order number fills
        their order references if they had none. ``applied`` says what changed."""
        return await extraction.decide(evidence_id, field_id, actor=user, accept=True)

    @post(
        "/fields/{field_id:int}/reject",
        status_code=HTTP_200_OK,
        operation_id="rejectExtractedField",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "uploader"},
    )
    async def reject(
        self, evidence_id: FromPath[int], field_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> ExtractedFieldRead:
        """The uploader rejects a suggestion: it is never used."""
        return await extraction.decide(evidence_id, field_id, actor=user, accept=False)


def routers() -> list[Router]:
    return documented([Router(path="/", route_handlers=[EvidenceController, ExtractionController])])
