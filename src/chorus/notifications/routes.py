"""HTTP: the inbox (/api/v1/notifications), preferences (/api/v1/me/preferences), one-click
unsubscribe, confirming a bouncing address, case announcements, and admins' failed deliveries."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Router, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from chorus.accounts.schemas import UserRead
from chorus.notifications import service
from chorus.notifications.schemas import (
    AnnouncementCreate,
    AnnouncementList,
    AnnouncementRead,
    ConsentReminder,
    ConsentReminderList,
    DeliveryFailureList,
    EvidenceReminder,
    EvidenceReminderList,
    NotificationList,
    PreferencesRead,
    PreferencesUpdate,
    Unsubscribed,
)
from chorus.settings import Settings
from chorus.web.guards import requires_login, requires_role
from chorus.web.pages import page
from chorus.web.problems import documented, problems


class NotificationController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]

    @get("/", operation_id="listNotifications", guards=[requires_login])
    async def inbox(self, user: NamedDependency[UserRead]) -> NotificationList:
        """The caller's inbox, newest first, and how many are unread."""
        return await service.list_for(actor=user)

    @post(
        "/{notification_id:int}/read",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="markNotificationRead",
        guards=[requires_login],
        opt={"rule": "recipient"},
    )
    async def read(self, notification_id: FromPath[int], user: NamedDependency[UserRead]) -> None:
        await service.mark_read(notification_id, actor=user)

    @post(
        "/read-all",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="markAllNotificationsRead",
        guards=[requires_login],
    )
    async def read_all(self, user: NamedDependency[UserRead]) -> None:
        await service.mark_all_read(actor=user)

    @get("/unsubscribe", operation_id="unsubscribePage", media_type="text/html", responses=problems(422))
    async def unsubscribe_page(self, request: Request[Any, Any, Any], token: FromQuery[str]) -> Template:
        """Where the e-mail's unsubscribe link lands: a page with one button (a GET changes
        nothing, so link scanners cannot unsubscribe anyone). The button posts to the page
        ``POST /notifications/unsubscribe``, which answers in words; mail clients' one-click post
        comes here (below)."""
        return await page(request, "notifications/unsubscribe.html", token=token)

    @post(
        "/unsubscribe",
        status_code=HTTP_200_OK,
        operation_id="unsubscribe",
        # RFC 8058: mail clients post "List-Unsubscribe=One-Click" as a form; the signed link is
        # the only authority, so a signed-in browser's page button needs no CSRF token.
        opt={"body_types": None, "csrf": False},
        responses=problems(422),
    )
    async def unsubscribe(self, token: FromQuery[str], settings: NamedDependency[Settings]) -> Unsubscribed:
        """One-click unsubscribe (RFC 8058), no login: the signed link is the authority."""
        return await service.unsubscribe(token, settings)

    @get("/confirm-email", operation_id="confirmNotificationEmail", responses=problems(422))
    async def confirm_email(
        self, token: FromQuery[str], settings: NamedDependency[Settings]
    ) -> PreferencesRead:
        """The link of the confirmation e-mail: the address receives mail again."""
        return await service.confirm_email(token, settings)


class PreferencesController(Controller):
    path = "/api/v1/me"
    tags = ["notifications"]
    guards = [requires_login]

    @get("/preferences", operation_id="getPreferences")
    async def get_preferences(self, user: NamedDependency[UserRead]) -> PreferencesRead:
        return await service.get_preferences(actor=user)

    @put("/preferences", operation_id="setPreferences")
    async def set_preferences(
        self,
        data: JSONBody[PreferencesUpdate],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> PreferencesRead:
        """E-mail ``immediate`` / ``digest`` / ``off``, language, time zone (IANA), webhook address
        (https, public; a new one answers with its signing secret, once)."""
        return await service.update_preferences(actor=user, data=data, settings=settings)

    @post("/email/confirm", status_code=HTTP_202_ACCEPTED, operation_id="requestEmailConfirmation")
    async def confirm(self, user: NamedDependency[UserRead]) -> None:
        """After the address bounced: mail a link that confirms it again."""
        await service.request_email_confirmation(actor=user)


class AnnouncementController(Controller):
    path = "/api/v1/cases"
    tags = ["notifications"]

    @post(
        "/{case_id:int}/announcements",
        status_code=HTTP_201_CREATED,
        operation_id="createAnnouncement",
        guards=[requires_login],
        opt={"rule": "organizer"},
    )
    async def create(
        self, case_id: FromPath[int], data: JSONBody[AnnouncementCreate], user: NamedDependency[UserRead]
    ) -> AnnouncementRead:
        """Organizers: a message (Markdown, sanitized) to every member of the case."""
        return await service.announce(case_id, actor=user, data=data)

    @get(
        "/{case_id:int}/announcements",
        operation_id="listAnnouncements",
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def list(self, case_id: FromPath[int], user: NamedDependency[UserRead]) -> AnnouncementList:
        """Members: the case's announcements, newest first."""
        return await service.announcements(case_id, actor=user)


class ReminderController(Controller):
    """Organizers remind the members who have not done something yet: agree to the latest
    version of a regulator's complaint, upload evidence. Each at most once a day."""

    path = "/api/v1"
    tags = ["notifications"]
    guards = [requires_login]

    @post(
        "/complaints/{complaint_id:int}/consent-reminders",
        status_code=HTTP_201_CREATED,
        operation_id="remindConsent",
        opt={"rule": "organizer"},
        responses=problems(409),
    )
    async def remind_consent(
        self, complaint_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> ConsentReminder:
        """Organizers: ask every member (but the caller) who has not agreed to this version to read
        it and agree. Only for the latest version of its regulator (409 ``complaint_not_latest``);
        409 ``consent_reminder_nobody`` when no one is left, ``consent_reminder_too_soon`` within
        24 hours of the last."""
        return await service.remind_consent(complaint_id, actor=user)

    @get(
        "/complaints/{complaint_id:int}/consent-reminders",
        operation_id="listConsentReminders",
        opt={"rule": "organizer"},
    )
    async def consent_reminders(
        self, complaint_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> ConsentReminderList:
        """Organizers: the reminders sent for this version, newest first."""
        return ConsentReminderList(items=await service.consent_reminders(complaint_id, actor=user))

    @post(
        "/cases/{case_id:int}/evidence-reminders",
        status_code=HTTP_201_CREATED,
        operation_id="remindEvidence",
        opt={"rule": "organizer"},
        responses=problems(409),
    )
    async def remind_evidence(
        self, case_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> EvidenceReminder:
        """Organizers: ask every member (but the caller) with no evidence in the case that is not
        withdrawn to upload some. 409 ``evidence_reminder_nobody`` when no one is left,
        ``evidence_reminder_too_soon`` within 24 hours of the last."""
        return await service.remind_evidence(case_id, actor=user)

    @get(
        "/cases/{case_id:int}/evidence-reminders",
        operation_id="listEvidenceReminders",
        opt={"rule": "organizer"},
    )
    async def evidence_reminders(
        self, case_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> EvidenceReminderList:
        """Organizers: the reminders to upload evidence sent in the case, newest first."""
        return EvidenceReminderList(items=await service.evidence_reminders(case_id, actor=user))


class DeliveryAdminController(Controller):
    path = "/api/v1/admin/notifications"
    tags = ["admin"]
    guards = [requires_role("admin")]

    @get("/failures", operation_id="listFailedDeliveries")
    async def failures(self) -> DeliveryFailureList:
        """Admins: deliveries that failed for good (refused, bounced, out of tries)."""
        return await service.failures()


def routers() -> list[Router]:
    handlers = [
        NotificationController,
        PreferencesController,
        AnnouncementController,
        ReminderController,
        DeliveryAdminController,
    ]
    return documented([Router(path="/", route_handlers=handlers)])
