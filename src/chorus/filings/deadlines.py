"""When a regulator owes its next answer: deadlines counted in working days (pure).

Working days come from the ``holidays`` package, which knows China's public holidays and
its make-up working days (调休: a Saturday or Sunday worked in exchange for a longer break),
and the holidays of other countries for regulators abroad. A regulator's ``calendar`` is the
country code whose working days count; its ``accept_working_days`` is the time it has to
decide whether to accept a complaint once it reached it, ``finish_working_days`` the time to
conclude once accepted.

The clock, by the filing's status:
- ``submitted`` or ``received`` (the complaint reached the regulator, whichever is recorded
  first): the acceptance deadline, counted from that day;
- ``accepted``: the conclusion deadline, counted from the day of acceptance;
- ``in_mediation``: the conclusion deadline runs on;
- ``needs_info`` (the regulator asked for more material): the deadline runs on, and
  leaving it counts as leaving the status the regulator asked in (back there: it still runs;
  on to ``accepted``: the conclusion deadline starts);
- an end: no deadline is owed any more (the last one stays on record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from chorus.filings.status import FilingStatus, is_end

# The time zone in which a regulator's days begin and end, by calendar.
TIME_ZONES = {"CN": "Asia/Shanghai", "US": "America/New_York"}
ACCEPTANCE = frozenset({FilingStatus.submitted, FilingStatus.received})


@dataclass(frozen=True)
class Limits:
    calendar: str  # ISO 3166 country code
    accept_working_days: int | None
    finish_working_days: int | None


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


def local_date(moment: datetime, country: str) -> date:
    """The calendar date of ``moment`` where the regulator is."""
    return moment.astimezone(ZoneInfo(TIME_ZONES.get(country.upper(), "UTC"))).date()


def next_deadline(
    previous_status: FilingStatus,
    status: FilingStatus,
    on: date,
    current: date | None,
    limits: Limits,
    *,
    asked_in: FilingStatus | None = None,
) -> date | None:
    """The deadline after a filing moved from ``previous_status`` to ``status`` on day ``on``;
    ``asked_in``: leaving ``needs_info``, the status the regulator asked in."""
    if previous_status == FilingStatus.needs_info and asked_in is not None:
        previous_status = asked_in
    if status == FilingStatus.needs_info:
        # The clock runs on while the regulator waits for material: no rule we can cite stops it
        # (the time limits in data/regulators.json count from receipt and from acceptance), and
        # running on means organizers are reminded no later than they would be otherwise.
        # Issue 14 will pause clocks where a cited rule says so.
        return current
    if is_end(status) or status == previous_status:
        return current
    if status in ACCEPTANCE:
        if previous_status in ACCEPTANCE or limits.accept_working_days is None:
            return current  # the acceptance clock already runs (or the regulator has none)
        return add_working_days(on, limits.accept_working_days, limits.calendar)
    if status == FilingStatus.accepted:
        if limits.finish_working_days is None:
            return None
        return add_working_days(on, limits.finish_working_days, limits.calendar)
    return current  # in_mediation: the conclusion deadline runs on; queued: none yet


def is_overdue(status: FilingStatus | str, deadline: date | None, today: date) -> bool:
    """Past its deadline and still waiting for the regulator."""
    return deadline is not None and not is_end(status) and today > deadline
