"""Notification request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chorus.inputs import Input

EmailMode = Literal["immediate", "digest", "off"]
Locale = Literal["zh-CN", "en"]
Channel = Literal["email", "webhook", "digest"]


class NotificationRead(BaseModel):
    id: int
    kind: str
    case_id: int | None
    data: dict[str, object]
    created_at: datetime
    read: bool


class NotificationList(BaseModel):
    items: list[NotificationRead]
    unread: int


class PreferencesRead(BaseModel):
    email: EmailMode
    locale: Locale
    time_zone: str
    webhook_url: str | None
    webhook_active: bool = Field(description="false once repeated failures disabled the webhook")
    email_bouncing: bool = Field(description="the mail server refused the address: confirm it again")
    webhook_secret: str | None = Field(
        default=None,
        description="only in the answer that set a new webhook address: the HMAC-SHA256 key, shown once",
    )


class PreferencesUpdate(Input):
    """Any subset; ``webhook_url: null`` removes the webhook."""

    model_config = ConfigDict(extra="forbid")

    email: EmailMode | None = None
    locale: Locale | None = None
    time_zone: str | None = Field(
        default=None, min_length=1, max_length=64, description="IANA, e.g. Asia/Shanghai"
    )
    webhook_url: str | None = Field(default=None, min_length=1, max_length=2000)

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _strip(cls, v: object) -> object:
        return v.strip() if isinstance(v, str) else v


class AnnouncementCreate(Input):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000, description="Markdown")

    @field_validator("title", mode="before")
    @classmethod
    def _one_line(cls, v: object) -> object:
        return " ".join(v.split()) if isinstance(v, str) else v


class AnnouncementRead(BaseModel):
    id: int
    case_id: int
    title: str
    body: str = Field(description="Markdown as written")
    body_html: str = Field(description="sanitized HTML")
    created_at: datetime


class AnnouncementList(BaseModel):
    items: list[AnnouncementRead]


class DeliveryFailure(BaseModel):
    id: int
    event_id: int
    kind: str
    case_id: int | None
    user_id: int
    channel: Channel
    address: str | None
    attempts: int
    error: str | None
    created_at: datetime


class DeliveryFailureList(BaseModel):
    items: list[DeliveryFailure]


class Unsubscribed(BaseModel):
    email: EmailMode


class EvidenceReminder(BaseModel):
    """A reminder to upload evidence in a case (``notifications.remind_evidence``)."""

    case_id: int
    sent_at: datetime
    members: int  # how many members it went to
    next_at: datetime  # the earliest moment another may go out after this one


class ConsentReminder(BaseModel):
    """A reminder to consent to one complaint version (``notifications.remind_consent``)."""

    complaint_id: int
    sent_at: datetime
    members: int  # how many members it went to
    next_at: datetime  # the earliest moment another for this version may go out after this one


class EvidenceReminderList(BaseModel):
    items: list[EvidenceReminder]  # newest first


class ConsentReminderList(BaseModel):
    items: list[ConsentReminder]  # newest first
