"""In-app notifications: one event for one member."""

from piccolo.columns import JSON, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from chorus.accounts.tables import User


class Notification(Table, tablename="notification"):
    id: Serial
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=40, null=False)
    case_id = Integer(null=True, default=None)
    data = JSON(default={}, null=False)
    # "<source>:<user id>", e.g. "case-event:17:42": a retried job never notifies twice
    idempotency_key = Varchar(length=200, null=False, unique=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False, index=True)
    read_at = Timestamptz(null=True, default=None)
