"""HTTP: /api/v1/regulators (public list, admins add and edit)."""

from __future__ import annotations

from litestar import Controller, Router, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from chorus.accounts.schemas import UserRead
from chorus.regulators import service
from chorus.regulators.schemas import RegulatorCreate, RegulatorList, RegulatorRead, RegulatorUpdate
from chorus.settings import Settings
from chorus.web.guards import requires_role
from chorus.web.problems import documented, problems


class RegulatorController(Controller):
    path = "/api/v1/regulators"
    tags = ["regulators"]

    @get("/", operation_id="listRegulators")
    async def list_regulators(self) -> RegulatorList:
        """Where complaints can be sent: channel, address, jurisdiction, time limits."""
        return RegulatorList(items=await service.list_active())

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        operation_id="createRegulator",
        responses=problems(409),
        guards=[requires_role("admin")],
    )
    async def create(
        self,
        data: JSONBody[RegulatorCreate],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> RegulatorRead:
        """Admins add a channel; ``credentials_env`` names the variable holding its API key
        (``CHORUS_REGULATOR_KEY_*`` only). In production an HTTP channel's address must be
        ``https://`` and resolve to public addresses only."""
        return await service.create(data=data, actor=user, settings=settings)

    @patch(
        "/{regulator_id:int}",
        status_code=HTTP_200_OK,
        operation_id="updateRegulator",
        responses=problems(409),
        guards=[requires_role("admin")],
    )
    async def update(
        self,
        regulator_id: FromPath[int],
        data: JSONBody[RegulatorUpdate],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> RegulatorRead:
        """Admins change a regulator: only the fields sent change (``null`` clears
        ``credentials_env`` and the time limits), checked as on creation. Filings already sent
        keep what they were sent with."""
        return await service.update(regulator_id, data=data, actor=user, settings=settings)


def routers() -> list[Router]:
    return documented([Router(path="/", route_handlers=[RegulatorController])])
