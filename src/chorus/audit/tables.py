"""The audit log: who did what to which object. Never holds personal data or secrets."""

from piccolo.columns import JSON, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AuditEntry(Table, tablename="audit_log"):
    id: Serial
    at = Timestamptz(default=TimestamptzNow(), null=False, index=True)
    # A plain id, not a foreign key: the trail must outlive the account it mentions.
    actor_id = Integer(null=True, default=None, index=True)
    action = Varchar(length=60, null=False, index=True)
    object_type = Varchar(length=40, null=False)
    object_id = Integer(null=True, default=None)
    data = JSON(default={}, null=False)
