"""HTTP: file a complaint (/api/v1/cases/{id}/filings), read a filing, record manual updates."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from chorus.accounts.schemas import UserRead
from chorus.complaints import service as complaints
from chorus.errors import TooLarge
from chorus.evidence.service import storage_for
from chorus.filings import service
from chorus.filings.schemas import FilingCreate, FilingEventCreate, FilingQueued, FilingRead
from chorus.settings import Settings
from chorus.web.auth import request_token
from chorus.web.guards import requires_login
from chorus.web.problems import documented, problems


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
    ) -> dict[str, int]:
        """The mail server hands over a regulator's reply (raw RFC 822, bearer inbound secret);
        it is recorded on the filing its reply address names."""
        service.authorize_inbound(request_token(request), settings)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.inbound_max_bytes:
            raise TooLarge("too_large", limit=settings.inbound_max_bytes)
        raw = bytearray()
        async for chunk in request.stream():  # read with a limit, never unbounded
            raw += chunk
            if len(raw) > settings.inbound_max_bytes:
                raise TooLarge("too_large", limit=settings.inbound_max_bytes)
        return {"filing_id": await service.receive_reply(bytes(raw), settings)}


def routers() -> list[Router]:
    return documented([Router(path="/", route_handlers=[FilingController, InboundController])])
