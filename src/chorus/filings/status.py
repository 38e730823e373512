"""The filing status machine (pure): which changes are allowed, and by whom.

    queued → submitted → received → accepted → in_mediation → resolved
    ends: resolved, rejected, closed, failed, withdrawn

A filing moves forward along the main line (steps may be skipped: a regulator that
answers "accepted" was evidently reached) or into an end; an end is final.
"""

from __future__ import annotations

from enum import StrEnum


class FilingStatus(StrEnum):
    queued = "queued"
    submitted = "submitted"
    received = "received"
    accepted = "accepted"
    in_mediation = "in_mediation"
    resolved = "resolved"
    rejected = "rejected"
    closed = "closed"
    failed = "failed"
    withdrawn = "withdrawn"


class Source(StrEnum):
    """Who said so: the submitting/polling worker, the regulator's reply, or an organizer."""

    worker = "worker"
    regulator = "regulator"
    organizer = "organizer"


MAIN_LINE: tuple[FilingStatus, ...] = (
    FilingStatus.queued,
    FilingStatus.submitted,
    FilingStatus.received,
    FilingStatus.accepted,
    FilingStatus.in_mediation,
    FilingStatus.resolved,
)
ENDS = frozenset(
    {
        FilingStatus.resolved,
        FilingStatus.rejected,
        FilingStatus.closed,
        FilingStatus.failed,
        FilingStatus.withdrawn,
    }
)
# "failed" means the channel gave up on the submission: only the worker says so.
BY_SOURCE: dict[Source, frozenset[FilingStatus]] = {
    Source.worker: frozenset(FilingStatus) - {FilingStatus.queued},
    Source.regulator: frozenset(FilingStatus)
    - {FilingStatus.queued, FilingStatus.failed, FilingStatus.withdrawn},
    Source.organizer: frozenset(FilingStatus) - {FilingStatus.queued, FilingStatus.failed},
}


def is_end(status: FilingStatus | str) -> bool:
    return FilingStatus(status) in ENDS


def can_move(current: FilingStatus | str, new: FilingStatus | str, source: Source) -> bool:
    """May ``source`` move a filing from ``current`` to ``new``? (Same status: no move.)"""
    cur, nxt = FilingStatus(current), FilingStatus(new)
    if cur in ENDS or nxt == cur or nxt not in BY_SOURCE[source]:
        return False
    if nxt in ENDS:
        return True
    return MAIN_LINE.index(nxt) > MAIN_LINE.index(cur)
