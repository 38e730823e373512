"""Each member's progress on their escalation ladder (issue 16 item 3)."""

from piccolo.columns import Date, ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from chorus.cases.tables import Membership


class LadderProgress(Table, tablename="ladder_progress"):
    """A member's progress on one step (``chorus.ladder.steps``): done or refused, on a day. A step
    without a row is not started; leaving the case removes the rows (the membership goes)."""

    id: Serial
    membership = ForeignKey(references=Membership, null=False, on_delete=OnDelete.cascade, index=True)
    step = Varchar(length=60, null=False)  # a step id of data/escalation_ladder.json
    state = Varchar(length=12, null=False)  # done | refused
    happened_on = Date(null=True, default=None)  # the day the member took it or was refused
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)

    ladder_progress_once = Unique([membership, step])  # one progress per member and step
