"""HTTP: the in-app inbox (/api/v1/notifications)."""

from __future__ import annotations

from litestar import Controller, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.status_codes import HTTP_204_NO_CONTENT

from chorus.accounts.schemas import UserRead
from chorus.notifications import service
from chorus.notifications.service import NotificationList
from chorus.settings import Settings
from chorus.web.problems import documented


class NotificationController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]

    @get("/", operation_id="listNotifications")
    async def inbox(self, user: NamedDependency[UserRead]) -> NotificationList:
        return await service.list_for(user)

    @post("/{notification_id:int}/read", status_code=HTTP_204_NO_CONTENT, operation_id="markNotificationRead")
    async def read(self, notification_id: FromPath[int], user: NamedDependency[UserRead]) -> None:
        await service.mark_read(user, notification_id)


def routers(settings: Settings) -> list[Router]:
    return documented([Router(path="/", route_handlers=[NotificationController])])
