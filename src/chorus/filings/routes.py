"""HTTP: file a complaint (/api/v1/cases/{id}/filings), read a filing, record manual updates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from chorus.accounts.schemas import UserRead
from chorus.complaints import service as complaints
from chorus.errors import NotFound, TooLarge
from chorus.evidence.service import storage_for
from chorus.filings import inbound, service
from chorus.filings.schemas import (
    FiledDocumentList,
    FilingCreate,
    FilingEventCreate,
    FilingQueued,
    FilingRead,
    InboundAccepted,
    QuarantineAssign,
    QuarantineDetail,
    QuarantineDiscard,
    QuarantineList,
)
from chorus.settings import Settings
from chorus.web.auth import request_token
from chorus.web.guards import requires_login, requires_role
from chorus.web.problems import documented, problems, raw_bytes


class FilingController(Controller):
    path = "/api/v1"
    tags = ["filings"]

    @post(
        "/cases/{case_id:int}/filings",
        status_code=HTTP_202_ACCEPTED,
        operation_id="createFiling",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "organizer"},
    )
    async def create(
        self, case_id: FromPath[int], data: JSONBody[FilingCreate], user: NamedDependency[UserRead]
    ) -> FilingQueued:
        """Organizers file the latest version of a complaint with its regulator."""
        return await service.create(case_id=case_id, actor=user, data=data)

    @get(
        "/filings/{filing_id:int}", operation_id="getFiling", guards=[requires_login], opt={"rule": "member"}
    )
    async def get_filing(self, filing_id: FromPath[int], user: NamedDependency[UserRead]) -> FilingRead:
        """Members: status, the regulator's reference, deadline, overdue flag and every event."""
        return await service.get_or_raise(filing_id, actor=user)

    @get(
        "/filings/{filing_id:int}/bundle",
        operation_id="getFiledBundle",
        media_type="application/zip",
        guards=[requires_login],
        opt={"rule": "member"},  # the bundle as filed to organizers, a member bundle to the rest
    )
    async def bundle(
        self, filing_id: FromPath[int], user: NamedDependency[UserRead], settings: NamedDependency[Settings]
    ) -> Stream:
        """Organizers: the evidence bundle exactly as filed (its SHA-256 is the one the regulator
        got). Plain members: their member bundle of the version filed (manifest ``member_view``)."""
        found = await service.bundle(filing_id, actor=user, settings=settings)
        if not isinstance(found, complaints.FiledBundle):
            zs, name = found
            return Stream(
                zs,
                media_type="application/zip",
                headers={
                    "Content-Disposition": f'attachment; filename="{name}"',
                    "Content-Length": str(len(zs)),
                    "X-Content-Type-Options": "nosniff",
                },
            )
        store = storage_for(settings)
        return Stream(
            store.iter_bytes(found.sha256),
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{found.filename}"',
                "Content-Length": str(await store.size(found.sha256)),
                "X-Content-Type-Options": "nosniff",
                "ETag": f'"{found.sha256}"',
            },
        )

    @get(
        "/filings/{filing_id:int}/documents",
        operation_id="getFiledDocuments",
        guards=[requires_login],
        opt={"rule": "organizer"},
    )
    async def documents(
        self, filing_id: FromPath[int], user: NamedDependency[UserRead], settings: NamedDependency[Settings]
    ) -> FiledDocumentList:
        """Organizers: the members' documents the stored bundle keeps sealed (授权委托书 with the
        identity details each chose to share), opened to file by hand; ``text`` null for a member
        who left the case or deleted their account."""
        return await service.sealed_documents(filing_id, actor=user, settings=settings)

    @post(
        "/filings/{filing_id:int}/events",
        status_code=HTTP_201_CREATED,
        operation_id="addFilingEvent",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "organizer"},
    )
    async def add_event(
        self, filing_id: FromPath[int], data: JSONBody[FilingEventCreate], user: NamedDependency[UserRead]
    ) -> FilingRead:
        """Organizers record a manual update (a phone call, a letter): a note, maybe a status."""
        return await service.add_event(filing_id=filing_id, actor=user, data=data)


class InboundController(Controller):
    path = "/api/v1/inbound"
    tags = ["filings"]

    @post(
        "/email",
        status_code=HTTP_202_ACCEPTED,
        operation_id="receiveEmail",
        responses=problems(401, 413),  # the inbound secret; CHORUS_INBOUND_MAX_BYTES
        request_max_body_size=None,  # not the app's 1 MiB: bounded by CHORUS_INBOUND_MAX_BYTES below
        opt={"rule": "inbound-secret"},  # no account: the secret is checked first thing below
    )
    async def email(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> InboundAccepted:
        """The mail server hands over a regulator's reply (raw RFC 822, bearer inbound secret);
        it is recorded on the filing its reply address names (``filing_id``), or kept in the
        quarantine for admins (``quarantine_id`` and ``reason``: unmatched, bad_signature,
        expired, unreadable, attachment_refused). Either way 202: the message is accepted and
        kept, so a mail server never retries it. Larger than CHORUS_INBOUND_MAX_BYTES: 413."""
        service.authorize_inbound(request_token(request), settings)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.inbound_max_bytes:
            raise TooLarge("too_large", limit=settings.inbound_max_bytes)
        # streamed to a temp file with a limit, never unbounded
        return await inbound.receive(request.stream(), settings)


ADMIN = [requires_role("admin")]


class QuarantineController(Controller):
    """Admins: inbound mail no filing took by itself (issue 14 item 3)."""

    path = "/api/v1/admin/inbound"
    tags = ["filings"]
    guards = ADMIN

    @get("/quarantine", operation_id="listQuarantine")
    async def list_items(
        self,
        show: Annotated[Literal["open", "assigned", "discarded"] | None, QueryParameter(name="state")] = None,
    ) -> QuarantineList:
        """The quarantine, newest first (optionally one ``state``), and how many are open."""
        return await inbound.list_items(state=show)

    @get("/quarantine/{item_id:int}", operation_id="getQuarantined")
    async def get_item(self, item_id: FromPath[int]) -> QuarantineDetail:
        """One message: its headers, text, reason, what became of it."""
        return await inbound.get(item_id)

    @get(
        "/quarantine/{item_id:int}/raw",
        operation_id="downloadQuarantined",
        media_type="message/rfc822",
        responses={200: raw_bytes("the message as received (RFC 822)")},
    )
    async def raw(
        self, item_id: FromPath[int], user: NamedDependency[UserRead], settings: NamedDependency[Settings]
    ) -> Stream:
        """The raw message as received, as an attachment (404 once discarded: deleted)."""
        return await _download(await inbound.raw_of(item_id, actor=user), settings)

    @post(
        "/quarantine/{item_id:int}/assign",
        status_code=HTTP_200_OK,
        operation_id="assignQuarantined",
        responses=problems(409),
    )
    async def assign(
        self,
        item_id: FromPath[int],
        data: JSONBody[QuarantineAssign],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> QuarantineDetail:
        """Record the message on a filing exactly as a matched reply (timeline event, proposed
        status, attachments)."""
        return await inbound.assign(item_id, filing_id=data.filing_id, actor=user, settings=settings)

    @post(
        "/quarantine/{item_id:int}/discard",
        status_code=HTTP_200_OK,
        operation_id="discardQuarantined",
        responses=problems(409),
    )
    async def discard(
        self,
        item_id: FromPath[int],
        data: JSONBody[QuarantineDiscard],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> QuarantineDetail:
        """Set the message aside: the row stays (who, when, why), its text and raw bytes go."""
        return await inbound.discard(item_id, actor=user, note=data.note, settings=settings)


class FilingAttachmentController(Controller):
    path = "/api/v1"
    tags = ["filings"]

    @get(
        "/filings/{filing_id:int}/attachments/{attachment_id:int}",
        operation_id="downloadFilingAttachment",
        responses={200: raw_bytes("a file attached to a regulator's reply, as an attachment")},
        guards=[requires_login],
        opt={"rule": "organizer-or-admin"},  # of the filing's case (the service's)
    )
    async def content(
        self,
        filing_id: FromPath[int],
        attachment_id: FromPath[int],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> Stream:
        """A file a regulator's reply carried (kept like evidence): organizers of the case, admins."""
        return await _download(await inbound.open_attachment(filing_id, attachment_id, actor=user), settings)


async def _download(dl: inbound.Download, settings: Settings) -> Stream:
    store = storage_for(settings)
    if not await store.exists(dl.sha256):
        raise NotFound("filing_attachment_not_kept")
    return Stream(
        store.iter_bytes(dl.sha256),
        media_type=dl.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{dl.filename}"',
            "Content-Length": str(dl.size),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def routers() -> list[Router]:
    return documented(
        [
            Router(
                path="/",
                route_handlers=[
                    FilingController,
                    InboundController,
                    QuarantineController,
                    FilingAttachmentController,
                ],
            )
        ]
    )
