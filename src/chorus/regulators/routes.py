"""HTTP: /api/v1/regulators (public list of active regulators, admins add, edit and deactivate),
/api/v1/admin/regulators (admins: every regulator, deactivated ones too)."""

from __future__ import annotations

from litestar import Controller, Router, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from chorus.accounts.schemas import UserRead
from chorus.regulators import service
from chorus.regulators.schemas import (
    RegulatorAdminList,
    RegulatorAdminRead,
    RegulatorCreate,
    RegulatorList,
    RegulatorRead,
    RegulatorUpdate,
)
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
        ``credentials_env``, ``routed_by`` and the time limits), checked as on creation;
        ``active: false`` deactivates it (no new complaint is built for it or filed with it;
        filings already made keep it and go on). Filings already sent keep what they were sent
        with. Audited; a field changed here is kept when the shipped registry data is corrected."""
        return await service.update(regulator_id, data=data, actor=user, settings=settings)


class RegulatorAdminController(Controller):
    path = "/api/v1/admin/regulators"
    tags = ["regulators"]
    guards = [requires_role("admin")]

    @get("/", operation_id="listRegulatorsForAdmin")
    async def list_all(self) -> RegulatorAdminList:
        """Every regulator, deactivated ones too, with the name of its credentials variable,
        whether it is shipped with Chorus and which fields admins changed."""
        return RegulatorAdminList(items=await service.list_all())

    @get("/{regulator_id:int}", operation_id="getRegulatorForAdmin")
    async def get_one(self, regulator_id: FromPath[int]) -> RegulatorAdminRead:
        """One regulator as an admin edits it."""
        return await service.get_for_admin(regulator_id)


def routers() -> list[Router]:
    return documented([Router(path="/", route_handlers=[RegulatorController, RegulatorAdminController])])
