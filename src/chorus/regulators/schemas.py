"""Regulator request and response models."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator, model_validator

from chorus.inputs import Input
from chorus.regulators.requirements import Requirement

# The only environment variables a regulator's API key may be read from: an admin who could name
# any variable (CHORUS_SECRET_KEY, CHORUS_DATABASE_URL) could send its value to a URL they type.
CREDENTIALS_PREFIX = "CHORUS_REGULATOR_KEY_"
CREDENTIALS_ENV = re.compile(rf"^{CREDENTIALS_PREFIX}[A-Z0-9_]{{1,79}}$")
TemplateKind = Literal[
    "samr", "consumer_association", "payment_platform", "marketplace", "hotline", "police", "ftc"
]
# The least time between two polls of one filing's status on a regulator's HTTP channel, unless
# an admin sets another: the status sweep (CHORUS_STATUS_POLL_SECONDS) skips a filing asked sooner.
MIN_POLL_SECONDS_DEFAULT = 300
MIN_POLL_SECONDS_MAX = 7 * 86400
TIME_LIMITS_MAX = 20
# The fields of a regulator data/regulators.json sets (the rest are admins' alone: the API key's
# variable, the poll interval): a correction of an entry reaches these, unless an admin changed them.
ShippedField = Literal[
    "name",
    "jurisdiction",
    "channel",
    "address",
    "locale",
    "template_kind",
    "contact_disclosure",
    "calendar",
    "accept_working_days",
    "finish_working_days",
    "note",
    "authorization_required",
    "routed_by",
    "time_limits",
    "active",
]
SHIPPED_FIELDS: tuple[str, ...] = get_args(ShippedField)


class TimeLimitRule(Input):
    """A time limit a regulation sets, as dated and cited data: ``limit`` working or calendar days
    for a ``phase`` (``acceptance``: deciding whether to accept a complaint once it reached the
    regulator; ``conclusion``: concluding it once accepted), in force from ``valid_from`` to
    ``valid_to`` (both included; a filing uses the rule in force the day its complaint reached the
    regulator). ``confirmed``: checked against the official text; until then organizers and admins
    see it marked as not confirmed. ``article`` is null where it was not found."""

    phase: Literal["acceptance", "conclusion"]
    rule: str = Field(min_length=1, max_length=300)
    article: str | None = Field(default=None, min_length=1, max_length=100)
    text_excerpt: str = Field(default="", max_length=2000)
    source_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://[^\s]+$")
    valid_from: date | None = None
    valid_to: date | None = None
    limit: int = Field(ge=1, le=3650)
    unit: Literal["working_days", "calendar_days"]
    confirmed: bool = False
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _period(self) -> TimeLimitRule:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


def check_time_limits(rules: list[TimeLimitRule] | None) -> list[TimeLimitRule] | None:
    """Two rules of one phase in force on the same day would leave the limit ambiguous."""
    for n, a in enumerate(rules or []):
        for b in (rules or [])[n + 1 :]:
            if (
                a.phase == b.phase
                and (a.valid_from or date.min) <= (b.valid_to or date.max)
                and (b.valid_from or date.min) <= (a.valid_to or date.max)
            ):
                raise ValueError(f"two {a.phase} rules are in force on the same days")
    return rules


class RegulatorSource(BaseModel):
    """Where a shipped regulator's facts were read (data/regulators.json ``sources``): a title, a
    web address or a citation, and ``confirmed``: the fact is stated in that source as read; false:
    not confirmed from a source read (organizers and admins see it marked so). ``note`` says which
    fact it supports and what is missing."""

    title: str = Field(min_length=1, max_length=300)
    url_or_citation: str = Field(min_length=1, max_length=500)
    confirmed: bool = False
    note: str = Field(default="", max_length=2000)


class RegulatorRead(BaseModel):
    id: int
    name: str
    jurisdiction: str
    channel: str
    address: str
    locale: str
    template_kind: str
    contact_disclosure: str
    calendar: str
    accept_working_days: int | None
    finish_working_days: int | None
    min_poll_seconds: int
    has_credentials: bool
    note: str
    # its time limits as dated, cited rules (empty: none; the undated fields above apply)
    time_limits: list[TimeLimitRule] = Field(default_factory=list)
    # 12315 routing: a bureau is reached through this channel (a regulator's id), not on its own;
    # one complaint per case and channel
    routed_by: int | None = None
    # the channel expects each complainant's written authorization (授权委托书) when someone else
    # files for them: a member without one for the version filed is left out of it
    authorization_required: bool = False
    # what it requires of each complainant (chorus.regulators.requirements, data with its source):
    # the identity details required today, and every dated, cited rule (confirmed or not)
    required_details: list[str] = Field(default_factory=list)
    complainant_requirements: list[Requirement] = Field(default_factory=list)
    # false: deactivated by an admin, offered for no new complaint (filings already made keep it);
    # the public list holds active regulators only
    active: bool = True
    # where the shipped data's facts were read (none for a regulator an admin added)
    sources: list[RegulatorSource] = Field(default_factory=list)


class RegulatorList(BaseModel):
    items: list[RegulatorRead]


class RegulatorAdminRead(RegulatorRead):
    """What an admin editing a regulator sees besides the public fields: the name of the
    environment variable its API key is read from (never the key)."""

    credentials_env: str | None
    # shipped in data/regulators.json: `chorus migrate` applies corrections of its entry to it,
    # except to the fields admins changed (``admin_fields``, kept as the admins left them)
    shipped: bool = False
    admin_fields: list[str] = Field(default_factory=list)


class RegulatorAdminList(BaseModel):
    items: list[RegulatorAdminRead]


class RegulatorCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: str = Field(min_length=1, max_length=200)
    channel: Literal["email", "http", "manual"]
    address: str = Field(min_length=1, max_length=500)
    locale: Literal["zh-CN", "en"] = "zh-CN"
    credentials_env: str | None = Field(default=None, max_length=100, pattern=CREDENTIALS_ENV.pattern)
    template_kind: TemplateKind = "samr"
    contact_disclosure: Literal["masked", "full"] = "masked"
    calendar: Literal["CN", "US"] = "CN"
    accept_working_days: int | None = Field(default=None, ge=1, le=365)
    finish_working_days: int | None = Field(default=None, ge=1, le=3650)
    min_poll_seconds: int = Field(default=MIN_POLL_SECONDS_DEFAULT, ge=1, le=MIN_POLL_SECONDS_MAX)
    note: str = Field(default="", max_length=2000)
    time_limits: list[TimeLimitRule] = Field(default_factory=list, max_length=TIME_LIMITS_MAX)
    # a bureau reached through another regulator's channel (12315 routing), by that regulator's id
    routed_by: int | None = Field(default=None, ge=1, le=2**31 - 1)
    authorization_required: bool = False

    _time_limits = field_validator("time_limits")(check_time_limits)


class RegulatorUpdate(Input):
    """A change to a regulator: only the fields sent change. ``null`` clears the fields that may be
    empty (``credentials_env``, ``accept_working_days``, ``finish_working_days``, ``routed_by``,
    ``time_limits``); the others cannot be cleared. ``active: false`` deactivates it."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    jurisdiction: str | None = Field(default=None, min_length=1, max_length=200)
    channel: Literal["email", "http", "manual"] | None = None
    address: str | None = Field(default=None, min_length=1, max_length=500)
    locale: Literal["zh-CN", "en"] | None = None
    credentials_env: str | None = Field(default=None, max_length=100, pattern=CREDENTIALS_ENV.pattern)
    template_kind: TemplateKind | None = None
    contact_disclosure: Literal["masked", "full"] | None = None
    calendar: Literal["CN", "US"] | None = None
    accept_working_days: int | None = Field(default=None, ge=1, le=365)
    finish_working_days: int | None = Field(default=None, ge=1, le=3650)
    min_poll_seconds: int | None = Field(default=None, ge=1, le=MIN_POLL_SECONDS_MAX)
    note: str | None = Field(default=None, max_length=2000)
    # the whole list of rules (null or [] removes them)
    time_limits: list[TimeLimitRule] | None = Field(default=None, max_length=TIME_LIMITS_MAX)
    routed_by: int | None = Field(default=None, ge=1, le=2**31 - 1)  # null: a channel of its own
    authorization_required: bool | None = None
    # false deactivates: offered for no new complaint; filings already made keep it
    active: bool | None = None
    # a shipped regulator's fields an admin changed, handed back to data/regulators.json: they take
    # the shipped value now and follow its corrections again
    restore_shipped: list[ShippedField] | None = Field(default=None, max_length=len(SHIPPED_FIELDS))

    _time_limits = field_validator("time_limits")(check_time_limits)

    @field_validator(
        "name",
        "jurisdiction",
        "channel",
        "address",
        "locale",
        "template_kind",
        "contact_disclosure",
        "calendar",
        "min_poll_seconds",
        "note",
        "authorization_required",
        "active",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("this field cannot be emptied")
        return value


def credentials_env_allowed(name: str) -> bool:
    """May a regulator's API key be read from the environment variable ``name``?"""
    return CREDENTIALS_ENV.fullmatch(name) is not None
