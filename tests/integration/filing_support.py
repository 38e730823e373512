"""Time, for filing tests: a filing's deadlines are read from its events' days, so a test lets
time pass by moving the events back (as if they had happened then), never by writing a
deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chorus.filings.tables import FilingEvent


async def age(filing_id: int, days: int) -> None:
    """Time passes: every event of the filing happened ``days`` earlier."""
    for e in await FilingEvent.select(FilingEvent.id, FilingEvent.at).where(FilingEvent.filing == filing_id):
        await FilingEvent.update({FilingEvent.at: e["at"] - timedelta(days=days)}).where(
            FilingEvent.id == e["id"]
        )


def beijing_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


async def redate(filing_id: int, *days: date) -> None:
    """The filing's events, oldest first, happened on these days (noon in Beijing); events
    beyond the days given keep the last day."""
    rows = (
        await FilingEvent.select(FilingEvent.id)
        .where(FilingEvent.filing == filing_id)
        .order_by(FilingEvent.id)
    )
    for n, e in enumerate(rows):
        day = days[min(n, len(days) - 1)]
        await FilingEvent.update({FilingEvent.at: beijing_noon(day)}).where(FilingEvent.id == e["id"])
