"""Notifications: events members hear about, their inbox, their deliveries by e-mail and webhook,
their preferences, daily digests and organizers' announcements.

Uniqueness is declared as real multi-column unique constraints: one delivery per (event, user,
channel), one inbox entry per (event, user), one digest per (user, local day).
"""

from piccolo.columns import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from chorus.accounts.tables import User


class NotifyEvent(Table, tablename="notify_event"):
    """One fact members are told about. ``data`` holds ids, counts and codes, never another
    member's personal data. ``audience`` is ``members`` / ``organizers`` of ``case_id`` (read when
    the event fans out) or ``users`` (``user_ids``)."""

    id: Serial
    kind = Varchar(length=60, null=False)
    case_id = Integer(null=True, default=None, index=True)
    data = JSON(default={}, null=False)
    audience = Varchar(length=12, null=False, default="users")
    user_ids = JSON(default=[], null=False)
    # the fact it stands for ("case-event:17", "complaint:5"): a replayed use case records it once
    source = Varchar(length=200, null=False, unique=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    fanned_out_at = Timestamptz(null=True, default=None, index=True)


class InboxEntry(Table, tablename="notify_inbox"):
    """The in-app inbox: one entry per (event, user)."""

    id: Serial
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    event = ForeignKey(references=NotifyEvent, null=True, default=None, on_delete=OnDelete.cascade)
    kind = Varchar(length=60, null=False)
    case_id = Integer(null=True, default=None)
    data = JSON(default={}, null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False, index=True)
    read_at = Timestamptz(null=True, default=None)

    notify_inbox_once = Unique([event, user])


class Delivery(Table, tablename="notify_delivery"):
    """One event for one user on one outbound channel (``email``, ``webhook``, ``digest``).

    ``status``: pending → sending (claimed by a job until ``lease_until``) → sent | failed |
    skipped. ``batch`` groups the rows one job sends over one connection."""

    id: Serial
    event = ForeignKey(references=NotifyEvent, null=False, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    channel = Varchar(length=8, null=False)
    batch = Integer(null=False, default=0)
    status = Varchar(length=8, null=False, default="pending", index=True)
    attempts = Integer(null=False, default=0)
    lease_until = Timestamptz(null=True, default=None)
    address = Varchar(length=320, null=True, default=None)  # where it went (e-mail or URL)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    sent_at = Timestamptz(null=True, default=None)

    # the idempotency key of a delivery: a re-run, retried or restarted job never adds a second
    notify_delivery_once = Unique([event, user, channel])


class Preferences(Table, tablename="notify_preferences"):
    """How a member wants to hear (no row: the defaults). The locale is the account's own."""

    id: Serial
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, unique=True)
    email = Varchar(length=10, null=False, default="immediate")  # immediate | digest | off
    time_zone = Varchar(length=64, null=False, default="Asia/Shanghai")
    webhook_url = Varchar(length=2000, null=True, default=None)
    webhook_secret = Varchar(length=64, null=True, default=None, secret=True)
    webhook_disabled_at = Timestamptz(null=True, default=None)
    # a permanent SMTP refusal of this address: no e-mail to it until the member confirms it
    bouncing_address = Varchar(length=320, null=True, default=None)
    bouncing_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)


class Digest(Table, tablename="notify_digest"):
    """One daily digest per (user, local day): claimed by one worker, sent once."""

    id: Serial
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    local_day = Date(null=False)
    lease_until = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    items = Integer(null=False, default=0)

    notify_digest_once = Unique([user, local_day])


class Announcement(Table, tablename="announcement"):
    """Organizers' message to every member of a case: Markdown kept raw, shown sanitized."""

    id: Serial
    case_id = Integer(null=False, index=True)
    author_id = Integer(null=False)
    title = Varchar(length=200, null=False)
    body = Text(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
