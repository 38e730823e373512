"""The addressees of complaints and the channels that reach them."""

from piccolo.columns import JSON, Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Regulator(Table, tablename="regulator"):
    id: Serial
    slug = Varchar(length=80, null=False, unique=True)
    name = Varchar(length=200, null=False)
    jurisdiction = Varchar(length=200, null=False)
    channel = Varchar(length=10, null=False)  # email | http | manual
    address = Varchar(length=500, null=False)  # an e-mail address, the protocol-v1 base URL, or a web page
    locale = Varchar(length=8, null=False, default="zh-CN")
    template_kind = Varchar(length=40, null=False, default="samr")
    contact_disclosure = Varchar(length=10, null=False, default="masked")  # masked | full
    credentials_env = Varchar(length=100, null=True, default=None)  # env var holding the API key
    calendar = Varchar(length=4, null=False, default="CN")  # whose working days count deadlines
    accept_working_days = Integer(null=True, default=None)  # decide acceptance within N working days
    finish_working_days = Integer(null=True, default=None)  # conclude within M working days
    # the least time between two polls of one filing's status on its HTTP channel
    # (schemas.MIN_POLL_SECONDS_DEFAULT)
    min_poll_seconds = Integer(null=False, default=300)
    note = Text(null=False, default="")
    # its time limits as dated, cited rules (schemas.TimeLimitRule, a list); null: never set, and
    # `chorus migrate` copies the set data/regulators.json names for it (data/time_limits.json)
    time_limits = JSON(null=True, default=None)
    # 12315 routing: a bureau is not a channel of its own but a routing target of the channel that
    # reaches it (the regulator with this id); a case files one complaint per channel
    routed_by = Integer(null=True, default=None)
    # the channel expects a written authorization (授权委托书) from each complainant filed for by
    # someone else: members without one for the version filed are left out of it
    authorization_required = Boolean(default=False, null=False)
    active = Boolean(default=True, null=False)  # false: not offered for new complaints
    # a regulator shipped in data/regulators.json: the revision of its entry last applied (a
    # SHA-256 of the entry and the rules it names); `chorus migrate` applies an entry whose
    # revision changed, field by field, except the fields an admin changed (admin_fields)
    seed_revision = Varchar(length=64, null=True, default=None)
    admin_fields = JSON(null=True, default=None)  # names of the fields admins changed (a list)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
