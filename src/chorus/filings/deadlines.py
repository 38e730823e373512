"""When a regulator owes its next answer (pure): time limits as dated, cited rules, and the
clock a filing's history runs.

A **rule** is a time limit a regulation sets — ``limit`` working days or calendar days for a
``phase`` (``acceptance``: deciding whether to accept a complaint once it reached the regulator;
``conclusion``: concluding it once accepted), in force from ``valid_from`` to ``valid_to`` (both
days included). A filing uses the rules in force on the day its complaint reached the regulator,
even when the regulation changes while it is handled. A regulator's own undated limits (typed
without a citation) apply where no dated rule does.

Working days come from the ``holidays`` package, which knows China's public holidays and its
make-up working days (调休: a Saturday or Sunday worked in exchange for a longer break), and the
holidays of other countries for regulators abroad. China publishes each year's arrangement late
in the year before: a working-day count that reaches a year the data does not arrange yet gives
a *provisional* date (:func:`arranged_through`). Calendar days are counted as they come.

The clock, from the filing's status changes (:func:`clock_of`):
- ``submitted`` or ``received`` (the complaint reached the regulator, whichever is recorded
  first): the acceptance clock starts that day;
- ``accepted``: the conclusion clock starts that day;
- ``in_mediation``: the conclusion clock runs on (it starts that day when none ran: acceptance
  went unrecorded);
- ``needs_info`` (the regulator asked for more material): the clock pauses; leaving it resumes
  it with the days already used kept — the deadline moves later by the paused span, counted in
  the rule's unit — and then counts as leaving the status the regulator asked in (back there:
  the same clock runs on; on to ``accepted``: the conclusion clock starts);
- an end: no deadline is owed any more (the last one stays on record).
A clock's day of start is not counted, nor is the day the material was supplied: counting
resumes the day after, as it began.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from chorus.filings.status import FilingStatus, is_end

# The time zone in which a regulator's days begin and end, by calendar.
TIME_ZONES = {"CN": "Asia/Shanghai", "US": "America/New_York"}
ACCEPTANCE = frozenset({FilingStatus.submitted, FilingStatus.received})
# The statuses that say the complaint reached the regulator (the day whose rules apply).
REACHED = frozenset({*ACCEPTANCE, FilingStatus.accepted, FilingStatus.in_mediation})

Phase = Literal["acceptance", "conclusion"]
Unit = Literal["working_days", "calendar_days"]


@dataclass(frozen=True)
class Rule:
    """A time limit: ``limit`` units after the day its clock starts (that day not counted)."""

    phase: Phase
    limit: int
    unit: Unit = "working_days"
    valid_from: date | None = None  # the first day in force (None: since ever)
    valid_to: date | None = None  # the last day in force (None: still in force)
    rule: str | None = None  # the regulation's name; None: typed without a citation
    article: str | None = None  # as the regulation numbers it; None: not known
    source_url: str | None = None
    confirmed: bool = False  # checked against the official text

    @property
    def dated(self) -> bool:
        return self.valid_from is not None or self.valid_to is not None

    def in_force(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


def rule_in_force(rules: Iterable[Rule], phase: Phase, day: date) -> Rule | None:
    """The rule for ``phase`` in force on ``day``: a dated rule that covers it, else an undated
    one (a regulator's own limits), else None (no time limit is owed)."""
    found = [r for r in rules if r.phase == phase and r.in_force(day)]
    return next((r for r in found if r.dated), found[0] if found else None)


class UnknownCalendar(ValueError):
    def __init__(self, calendar: str) -> None:
        self.calendar = calendar
        super().__init__(f"no working-day calendar for {calendar!r}")


@lru_cache(maxsize=64)
def _calendar(country: str, first_year: int) -> holidays.HolidayBase:
    try:
        # a few years ahead: a long deadline may run into next year's holidays
        return holidays.country_holidays(country, years=range(first_year, first_year + 3))
    except NotImplementedError as exc:
        raise UnknownCalendar(country) from exc


def add_working_days(start: date, days: int, country: str) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself does not count)."""
    if days < 0:
        raise ValueError("days must not be negative")
    return _calendar(country.upper(), start.year).get_nth_working_day(start, days)


def is_working_day(day: date, country: str) -> bool:
    return bool(_calendar(country.upper(), day.year).is_working_day(day))


def add_units(start: date, count: int, unit: Unit, country: str) -> date:
    """The ``count``-th working or calendar day after ``start`` (``start`` not counted)."""
    if unit == "calendar_days":
        return start + timedelta(days=count)
    return add_working_days(start, count, country)


def count_units(after: date, through: date, unit: Unit, country: str) -> int:
    """How many working or calendar days there are after ``after`` up to ``through`` included
    (none when ``through`` is not later)."""
    if through <= after:
        return 0
    if unit == "calendar_days":
        return (through - after).days
    calendar = _calendar(country.upper(), after.year)
    return int(calendar.get_working_days_count(after + timedelta(days=1), through))


def arranged_through(country: str) -> int | None:
    """The last year whose holiday arrangement the calendar data holds, for a country whose
    government publishes one each year (China's 调休: which weekend days are worked in exchange
    for a longer break, announced late in the year before); None for calendars whose holidays
    follow fixed rules, where every year is known."""
    if country.upper() == "CN":
        from holidays.countries.china import ChinaStaticHolidays

        return max(ChinaStaticHolidays.special_public_holidays)
    return None


def local_date(moment: datetime, country: str) -> date:
    """The calendar date of ``moment`` where the regulator is."""
    return moment.astimezone(ZoneInfo(TIME_ZONES.get(country.upper(), "UTC"))).date()


@dataclass(frozen=True)
class Clock:
    """The time limit a filing is under: its phase, the day it started, the day the complaint
    reached the regulator (whose rules apply), its pauses (paused on, resumed on; the last one
    open while the regulator waits for material) and the day the filing ended, if it did."""

    phase: Phase
    started: date
    reached: date
    pauses: tuple[tuple[date, date | None], ...] = ()
    stopped: date | None = None

    @property
    def paused_since(self) -> date | None:
        return self.pauses[-1][0] if self.pauses and self.pauses[-1][1] is None else None

    def pause(self, on: date) -> Clock:
        return self if self.paused_since else replace(self, pauses=(*self.pauses, (on, None)))

    def resume(self, on: date) -> Clock:
        since = self.paused_since
        if since is None:
            return self
        return replace(self, pauses=(*self.pauses[:-1], (since, max(on, since))))

    def stop(self, on: date) -> Clock:
        return replace(self.resume(on), stopped=on)


def clock_of(history: Iterable[tuple[date, FilingStatus | str]]) -> Clock | None:
    """The clock of a filing from its events, oldest first: each one's day where the regulator
    is and the status after it (notes repeat the status; only changes count). None: no clock
    started (not sent yet, or it ended before reaching the regulator)."""
    clock: Clock | None = None
    reached: date | None = None
    previous: FilingStatus | None = None
    asked_in: FilingStatus | None = None
    for on, raw in history:
        status = FilingStatus(raw)
        if status == previous:
            continue
        came_from, previous = previous, status
        if clock is not None and clock.stopped is not None:
            break  # an end is final
        if status == FilingStatus.needs_info:
            asked_in = came_from
            clock = clock.pause(on) if clock is not None else None
            continue
        if came_from == FilingStatus.needs_info:
            clock = clock.resume(on) if clock is not None else None
            came_from = asked_in
        if reached is None and status in REACHED:
            reached = on
        if is_end(status):
            clock = clock.stop(on) if clock is not None else None
        elif status in ACCEPTANCE and came_from not in ACCEPTANCE:
            clock = Clock("acceptance", started=on, reached=reached or on)
        elif (status == FilingStatus.accepted and came_from != FilingStatus.accepted) or (
            status == FilingStatus.in_mediation and (clock is None or clock.phase != "conclusion")
        ):
            clock = Clock("conclusion", started=on, reached=reached or on)
    return clock


@dataclass(frozen=True)
class Reading:
    """What a clock says on a day: the rule it runs under (None: the regulator owes no date),
    the deadline, whether it is paused, the days used of the limit (in the rule's unit), whether
    the deadline is provisional (a working-day count reaching a year not yet arranged) and
    whether it passed."""

    phase: Phase
    rule: Rule | None
    deadline: date | None
    paused: bool
    days_used: int | None
    provisional: bool
    overdue: bool


def read(clock: Clock, rules: Sequence[Rule], country: str, today: date) -> Reading:
    """The clock on ``today`` under the rule in force the day the complaint reached the
    regulator. Pauses move the deadline later by the days they lasted (in the rule's unit); an
    open pause stops the count (the deadline shown is the one it had when it paused)."""
    rule = rule_in_force(rules, clock.phase, clock.reached)
    paused = clock.paused_since is not None
    if rule is None:
        return Reading(clock.phase, None, None, paused, None, False, False)
    unit = rule.unit
    lost = sum(count_units(p, r, unit, country) for p, r in clock.pauses if r is not None)
    deadline = add_units(clock.started, rule.limit + lost, unit, country)
    through = clock.stopped or clock.paused_since or today
    used = max(0, count_units(clock.started, through, unit, country) - lost)
    live = clock.stopped is None
    arranged = arranged_through(country)
    provisional = (
        live and unit == "working_days" and arranged is not None and max(deadline, through).year > arranged
    )
    return Reading(
        clock.phase, rule, deadline, paused, used, provisional, live and not paused and today > deadline
    )


def is_overdue(status: FilingStatus | str, deadline: date | None, today: date) -> bool:
    """Past its deadline and still waiting for the regulator."""
    return deadline is not None and not is_end(status) and today > deadline
